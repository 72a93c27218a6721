"""Revenue-weighted asks through Dagster, on the demo corpus with its CRM export imported.

Whichever runs first, the author resolution (`message_authors`) or the catalogue
(`feature_catalog`), every request ends with the distinct customers, summed ARR and segments
that its links and its messages' authors give: the resolution recomputes the requests of the
messages it rewrote, the linker folds newly linked mentions in.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.message_authors import message_authors
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.customer_import import import_customers, read_customer_file
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.request_customers import arr_cents
from headway_assets.core.warehouse.schema import (
    Customer,
    FeatureMention,
    FeatureRequest,
    FeatureRequestCustomer,
    FeatureRequestMention,
    MessageAuthor,
    Organization,
)
from headway_assets.core.warehouse.summary import warehouse_summary
from headway_assets.demo import DemoManifest
from tests.assets.conftest import MaterializeFn

AUTHORS_FIRST, CATALOGUE_FIRST = "2026-10-05", "2026-10-06"


def _import_crm(url: str, demo: DemoManifest) -> None:
    with write_transaction(url) as conn:
        for org in demo.orgs:
            org_id = conn.execute(select(Organization.id).where(Organization.slug == org.slug)).scalar_one()
            report = import_customers(conn, org_id, read_customer_file(demo.path_of(org.customers_path)))
            assert report.rejected == [] and report.created == report.rows > 5


def _stored_and_truth(url: str) -> tuple[dict[int, Any], dict[int, Any]]:
    """Each request's stored (customers, ARR cents, segments, per-customer mentions) and the same
    recomputed from scratch from its links and its messages' authors."""
    with read_connection(url) as conn:
        customers = {row.id: row for row in conn.execute(select(Customer.__table__))}
        asked: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for request_id, customer_id in conn.execute(
            select(FeatureRequestMention.feature_request_id, MessageAuthor.customer_id)
            .join(FeatureMention, FeatureMention.id == FeatureRequestMention.mention_id)
            .join(MessageAuthor, MessageAuthor.message_id == FeatureMention.message_id)
            .where(MessageAuthor.customer_id.is_not(None))
        ).tuples():
            asked[request_id][customer_id] += 1
        links: dict[int, dict[int, int]] = defaultdict(dict)
        for row in conn.execute(select(FeatureRequestCustomer.__table__)):
            links[row.feature_request_id][row.customer_id] = row.mentions
        stored = {
            row.id: (row.account_count, row.arr_cents, row.segments.get("names", []), links.get(row.id, {}))
            for row in conn.execute(select(FeatureRequest.__table__))
        }
    truth = {
        request_id: (
            len(asked[request_id]),
            sum(arr_cents(customers[c].arr) for c in asked[request_id]),
            sorted({customers[c].segment for c in asked[request_id] if customers[c].segment}),
            dict(asked[request_id]),
        )
        for request_id in stored
    }
    return stored, truth


def test_authors_and_catalogue_in_either_order_give_the_same_revenue(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn
) -> None:
    url = seeded_warehouse
    _import_crm(url, demo_corpus)
    ai = [message_labels, feature_mentions]

    # Day one: the catalogue links before the authors are known, then the resolution catches up.
    assert materialize_assets([*RAW_MESSAGE_ASSETS, *ai, feature_catalog], url, partition=AUTHORS_FIRST).success
    resolved = materialize_assets([message_authors], url, partition=AUTHORS_FIRST)
    events = resolved.asset_materializations_for_node("message_authors")
    assert events[0].metadata["requests_refreshed"].value > 0
    stored, truth = _stored_and_truth(url)
    assert stored == truth and any(count for count, *_ in stored.values())
    day_one = {request_id: sum(by_customer.values()) for request_id, (*_, by_customer) in stored.items()}

    # Day two: authors first, then the linker folds the new mentions into stored requests.
    assert materialize_assets([*RAW_MESSAGE_ASSETS, message_authors], url, partition=CATALOGUE_FIRST).success
    assert materialize_assets([*ai, feature_catalog], url, partition=CATALOGUE_FIRST).success
    stored, truth = _stored_and_truth(url)
    assert stored == truth
    # Stored requests gained customers' mentions on day two: the linker's fold was exercised.
    assert any(sum(stored[r][3].values()) > n for r, n in day_one.items() if r in stored)

    # The demo prints the top five asks by ARR per organisation.
    lines = warehouse_summary(url)
    headers = [line for line in lines if "asks by ARR" in line]
    assert len(headers) == len(demo_corpus.orgs)
    assert sum(" ARR from " in line for line in lines) <= 5 * len(demo_corpus.orgs)
