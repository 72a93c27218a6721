"""Competitors in the demo corpus: a line naming one is added to some customers' Slack feedback.

The lines come from `content.DEMO_COMPETITORS`, drawn with a random stream of their own, so every
other generated item stays as it was; the ground truth of a touched message keeps its category
and ask and gains `competitors` ((name, context) pairs), what tier-2 should find in it.
"""

from __future__ import annotations

import random
from dataclasses import replace

from headway_assets.demo.content import DEMO_COMPETITORS
from headway_assets.demo.corpus import ExpectedItem, SlackWorkspace

FEEDBACK = ("feature_request", "pain_point", "bug_report")
PER_30_DAYS = 16  # messages that name a competitor, per organisation and 30 days
CONTEXT_WEIGHTS = {"switching_from": 3, "switching_to": 3, "comparison": 4, "pricing": 3, "other": 1}
ALIAS_SHARE = 0.25  # how often a line uses an alias rather than the name


def add_competitor_lines(
    slug: str, slack: SlackWorkspace, expected: list[ExpectedItem], *, seed: int, days: int
) -> list[ExpectedItem]:
    """Append a competitor line to some English customer feedback messages of `slack` (in place)
    and return the ground truth with their `competitors` set."""
    specs = DEMO_COMPETITORS.get(slug, ())
    candidates = [
        item
        for item in expected
        if item.source == "slack"
        and item.category in FEEDBACK
        and item.kind == "message"
        and item.language == "en"
        and item.author_is_internal is False
        and not item.oversized
    ]
    if not specs or not candidates:
        return expected
    rng = random.Random(f"{seed}:{slug}:competitors")
    count = min(len(candidates), max(1, round(PER_30_DAYS * days / 30)))
    bodies = {f"{channel_id}:{body['ts']}": body for channel_id, messages in slack.history.items() for body in messages}
    contexts = list(CONTEXT_WEIGHTS)
    found: dict[str, tuple[tuple[str, str], ...]] = {}
    for item in rng.sample(candidates, count):
        spec = rng.choice(specs)
        context = rng.choices(contexts, weights=[CONTEXT_WEIGHTS[c] for c in contexts])[0]
        term = rng.choice(spec.aliases) if spec.aliases and rng.random() < ALIAS_SHARE else spec.name
        line = rng.choice(spec.lines[context]).format(competitor=term)
        body = bodies[item.external_id]
        text = body["text"].rstrip()
        body["text"] = f"{text}{'' if text[-1:] in '.!?' else '.'} {line}"
        found[item.external_id] = ((spec.name, context),)
    return [
        replace(item, competitors=found[item.external_id]) if item.external_id in found else item for item in expected
    ]
