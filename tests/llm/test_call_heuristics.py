"""The offline provider's call intelligence: cue phrases to levels, verbatim quotes, next steps."""

from __future__ import annotations

from headway_assets.llm.providers.json_schema import strict_json_schema
from headway_assets.llm.schemas import CallInsightBatch
from headway_assets.llm.tasks import CALL, CallInput, call_request
from headway_assets.offline import CALL_CUES, NEXT_STEP_CUE, answer, answer_task, assess_call, signal_lines

CALL_TEXT = (
    "Alex: Thanks for joining, everyone.\n"
    "Sam: Honestly it's been painful, people started to lose trust in the numbers.\n"
    "Sam: We had to fall back to our old process for two days.\n"
    "Sam: The number is a bit higher than we budgeted.\n"
    "Sam: We'd like to get the rest of the finance team on board next quarter.\n"
    "Alex: I'll send a recap email right after this call.\n"
    "Sam: We'll review internally and get back to you."
)


def _call(text: str = CALL_TEXT, internal: tuple[str, ...] = ("Alex",)) -> CallInput:
    return CallInput(text=text, source="gong", customer="Globex", title="Renewal", internal_speakers=internal)


def test_cues_give_levels_with_verbatim_reasons_and_owned_next_steps() -> None:
    insight = assess_call(_call())
    assert insight.churn_risk.level == "high"  # two strong cues
    assert insight.deal_risk.level == "medium"  # one weak cue
    assert insight.expansion_potential.level == "medium"  # "rest of the ... team": strong, alone
    for assessment in (insight.churn_risk, insight.deal_risk, insight.expansion_potential):
        assert assessment.reasons and all(reason.quote in CALL_TEXT for reason in assessment.reasons)
    assert [(step.owner, step.quote) for step in insight.next_steps] == [
        ("vendor", "I'll send a recap email right after this call."),
        ("customer", "We'll review internally and get back to you."),
    ]


def test_the_vendors_own_words_are_not_customer_signals() -> None:
    pitch = "Alex: Customers who switch to us never cancel, and most add more seats.\nSam: Sounds good."
    insight = assess_call(_call(pitch))
    assert (insight.churn_risk.level, insight.expansion_potential.level) == ("low", "low")
    assert insight.churn_risk.reasons == [] and insight.deal_risk.reasons == []
    # The same words from the customer count: one sentence is one piece of evidence (a strong cue: medium).
    assert assess_call(_call(pitch, internal=("Sam",))).churn_risk.level == "medium"


def test_the_offline_provider_answers_the_call_task_in_its_batch_shape() -> None:
    request = call_request([("0", _call())])
    assert request.task == CALL and 'vendor_speakers="Alex"' in request.user
    batch = answer_task(CALL, request.payload)
    assert isinstance(batch, CallInsightBatch) and [item.id for item in batch.items] == ["0"]
    assert answer(CALL, _call()) == assess_call(_call())
    schema = strict_json_schema(CallInsightBatch)
    assert schema["additionalProperties"] is False and schema["required"] == ["items"]


def test_a_sentence_is_tried_cue_by_cue_only_when_the_combined_check_finds_one() -> None:
    # The combined pattern skips sentences: it must find a cue exactly where one of the dimension's
    # cues does, or a cue would be lost (a cue with a back-reference or an inline flag breaks that).
    sentences = [
        *CALL_TEXT.lower().split("\n"),
        "we might cancel",
        "we will not renew",
        "the budget is frozen",
        "we went over our budget",
        "buy 20 more seats",
        "roll it out to finance",
        "the rest of the sales ops team",
        "nothing to report here",
        "let's book the next one",
    ]
    found = 0
    for cues, any_cue in CALL_CUES.values():
        for sentence in sentences:
            each = any(cue.pattern.search(sentence) for cue in cues)
            assert (any_cue.search(sentence) is not None) == each, sentence
            found += each
    assert found >= 8  # the sample does exercise the cues
    everything = [cue.pattern for cues, _ in CALL_CUES.values() for cue in cues] + [NEXT_STEP_CUE]
    assert signal_lines("\n".join(sentences)) == {
        index for index, sentence in enumerate(sentences) if any(pattern.search(sentence) for pattern in everything)
    }


def test_curly_apostrophes_read_as_straight_ones() -> None:
    text = "Sam: We won\u2019t renew at this price.\nAlex: I\u2019ll send the revised quote today."
    insight = assess_call(_call(text))
    assert insight.churn_risk.level == "medium"
    assert [(step.owner, step.quote) for step in insight.next_steps] == [
        ("vendor", "I\u2019ll send the revised quote today.")
    ]


def test_a_next_step_written_with_curly_apostrophes_loses_its_subject_too() -> None:
    # Transcripts and mail often carry typographic apostrophes: the action must read the same as
    # with straight ones ("Send the pricing sheet", not "I’ll send the pricing sheet").
    for apostrophe in ("'", "\u2019"):
        text = f"Alex: I{apostrophe}ll send the pricing sheet tomorrow.\nSam: Let{apostrophe}s book a demo next week."
        steps = assess_call(_call(text)).next_steps
        assert [step.action for step in steps] == ["send the pricing sheet tomorrow", "book a demo next week"]
        assert [step.quote for step in steps] == [
            f"I{apostrophe}ll send the pricing sheet tomorrow.",
            f"Let{apostrophe}s book a demo next week.",
        ]
