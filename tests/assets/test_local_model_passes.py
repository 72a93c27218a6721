"""The local model's excerpts and digests of long calls (assets/local_model.py), as pure functions."""

from __future__ import annotations

from headway_assets.assets.local_model import (
    EXCERPT_GAP,
    feedback_digests,
    feedback_excerpts,
    internal_speakers,
)

CALL = "\n".join(
    [
        "Hannah Cole: Good morning everyone, how was the weekend? Let's give it a minute for the others.",
        "Katrin Müller: Hi! Fine, thanks.",
        "",
        "Hannah Cole: So this is the dashboard builder, and from here you can add a calculated field.",
        "Katrin Müller: Please add anomaly detection alerts, fixed thresholds are far too noisy for us.",
        "Hannah Cole: You're not the first to ask for that, it's on our radar, I'll pass it on.",
        "Katrin Müller: The CSV export stops at 100k rows and we need the full table every Monday.",
    ]
    * 12
)
METADATA = {
    "parties": [
        {"name": "Hannah Cole", "affiliation": "Internal"},
        {"name": "Katrin Müller", "affiliation": "External"},
    ]
}


def test_internal_speakers_only_for_calls_with_external_participants() -> None:
    assert internal_speakers(METADATA) == frozenset({"Hannah Cole"})
    internal_meeting = {"calendar_invitees": [{"name": "A", "is_external": False}, {"name": "B", "is_external": False}]}
    assert internal_speakers(internal_meeting) == frozenset()
    assert internal_speakers(None) == frozenset()


def test_an_excerpt_keeps_customer_lines_verbatim_and_drops_the_vendors_turns() -> None:
    (excerpt,) = feedback_excerpts([CALL], [internal_speakers(METADATA)], threshold=0.15)
    assert len(excerpt) < len(CALL)
    kept = [line for line in excerpt.split("\n") if line != EXCERPT_GAP]
    assert kept and all(line in CALL.split("\n") for line in kept), "every kept line is a line of the call"
    assert not any(line.startswith("Hannah Cole:") for line in kept)
    assert any("anomaly detection" in line for line in kept)
    assert feedback_excerpts([CALL], [internal_speakers(METADATA)], threshold=0) == [CALL], "0 turns excerpts off"
    assert feedback_excerpts(["short message"], None, threshold=0.15) == ["short message"]


def test_a_digest_is_short_and_does_not_depend_on_the_other_texts_of_its_batch() -> None:
    other = "\n\n".join(["Intro line", "", "Another blank-separated line"] * 200)
    alone = feedback_digests([CALL], [internal_speakers(METADATA)], chars=600)
    together = feedback_digests([other, "short", CALL], [(), (), internal_speakers(METADATA)], chars=600)
    assert alone[0] is not None and alone[0] == together[2]
    assert together[1] is None, "a short message is chunked as before"
    assert len(alone[0]) <= 600 + 8 * len(EXCERPT_GAP)
    assert "Hannah Cole:" not in alone[0]
    assert feedback_digests([CALL], None, chars=0) == [None], "0 turns digests off"
