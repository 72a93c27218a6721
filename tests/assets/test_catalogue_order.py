"""Order independence of the incremental catalogue, measured (issue 14, item 5).

The catalogue is materialised after every day, as the pipeline runs it (tier-1, tier-2, then
the catalogue linking only what is new), with the days landing in order, in reverse, shuffled,
and as one backfill. The catalogues must agree: adjusted Rand index >= 0.98 over mention
co-membership against the in-order one, no duplicate link, every mention in exactly one request.

How it holds (docs/quality.md, "Order independence"): the linker places mentions as if one at a
time in canonical order whatever batches they come in, and a run whose new mentions sort before
linked ones links those again after them.
"""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import adjusted_rand_score
from sqlalchemy import delete, func, select

from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    MessageExtraction,
    MessageLabel,
)
from tests.assets.conftest import MaterializeFn

DAYS = [f"2026-10-{day:02d}" for day in range(5, 15)]  # ten days, ~65 mentions
DAILY_AI = [message_labels, feature_mentions]
MIN_AGREEMENT = 0.98


class OrderDependenceError(AssertionError):
    """The catalogues built in different orders agree less than `MIN_AGREEMENT`."""


def _membership(url: str) -> dict[tuple[str, int], str]:
    """Each mention (message external id, position) -> its request's key; checks one request each."""
    with read_connection(url) as conn:
        rows = conn.execute(
            select(Message.external_id, FeatureMention.ordinal, FeatureRequest.key)
            .select_from(FeatureMention)
            .join(Message, Message.id == FeatureMention.message_id)
            .outerjoin(FeatureRequestMention, FeatureRequestMention.mention_id == FeatureMention.id)
            .outerjoin(FeatureRequest, FeatureRequest.id == FeatureRequestMention.feature_request_id)
        ).all()
        duplicates = conn.execute(
            select(func.count()).select_from(
                select(FeatureRequestMention.mention_id)
                .group_by(FeatureRequestMention.mention_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        empty = conn.execute(
            select(func.count())
            .select_from(FeatureRequest)
            .where(
                FeatureRequest.merged_into_id.is_(None),
                ~FeatureRequest.id.in_(select(FeatureRequestMention.feature_request_id)),
            )
        ).scalar_one()
    assert duplicates == 0, "a mention is linked twice"
    assert empty == 0, "a request holds no mention"
    membership: dict[tuple[str, int], str] = {}
    for external_id, ordinal, key in rows:
        assert key is not None, f"mention {external_id}#{ordinal} is in no request"
        assert (external_id, ordinal) not in membership
        membership[(external_id, ordinal)] = key
    return membership


def _agreement(left: dict[tuple[str, int], str], right: dict[tuple[str, int], str]) -> float:
    assert left.keys() == right.keys(), "the two catalogues hold different mentions"
    keys = sorted(left)
    return float(adjusted_rand_score([left[k] for k in keys], [right[k] for k in keys]))


def _reset_ai(url: str) -> None:
    with write_transaction(url) as conn:
        for table in (FeatureRequestMention, FeatureRequest, FeatureMention, MessageExtraction, MessageLabel):
            conn.execute(delete(table))


def _land(url: str, materialize_assets: MaterializeFn, days: list[str]) -> dict[tuple[str, int], str]:
    """Materialise the days one by one in this order, the catalogue after each; its membership."""
    _reset_ai(url)
    for day in days:
        assert materialize_assets(DAILY_AI, url, partition=day).success
        result = materialize_assets([feature_catalog], url)
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"every_mention_in_one_request": True}
    return _membership(url)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_catalogue_agrees_whatever_order_the_days_land_in(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, first=DAYS[0], last=DAYS[-1]).success
    in_order = _land(url, materialize_assets, DAYS)
    assert len(in_order) > 50 and len(set(in_order.values())) > 10

    shuffled = DAYS.copy()
    random.Random(14).shuffle(shuffled)
    assert shuffled not in (DAYS, DAYS[::-1])
    agreement = {
        "reverse": _agreement(in_order, _land(url, materialize_assets, DAYS[::-1])),
        "shuffled": _agreement(in_order, _land(url, materialize_assets, shuffled)),
    }
    _reset_ai(url)
    assert materialize_assets([*DAILY_AI, feature_catalog], url, first=DAYS[0], last=DAYS[-1]).success
    agreement["backfill"] = _agreement(in_order, _membership(url))
    print(f"adjusted Rand index against the in-order catalogue: {agreement}")
    if not all(score >= MIN_AGREEMENT for score in agreement.values()):
        raise OrderDependenceError(f"catalogues agree below {MIN_AGREEMENT}: {agreement}")
