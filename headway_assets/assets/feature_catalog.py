"""`feature_catalog`: new feature mentions linked into the de-duplicated catalogue of requests.

Incremental: a run links only the mentions that have no request yet (new, or re-extracted since
the last run); what it costs grows with them, not with history. With `rebuild` (the
`catalogue_rebuild` job, or `headway catalogue rebuild`) an organisation's catalogue is built
again from all its mentions, keeping every correction people made (see `catalog/store.py`).
"""

from collections import Counter
from collections.abc import Mapping

import dagster as dg
import pydantic
from sqlalchemy import Connection, select

from headway_assets.assets.ai_support import (
    AI_GROUP,
    LLM_POOL,
    llm_metadata,
    org_shares,
    record_usage,
    run_with_engine,
)
from headway_assets.assets.automation import FOLLOW_UPSTREAM
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.message_authors import message_authors
from headway_assets.assets.metadata import PREVIEW_ROWS, markdown_table, preview_redaction, redacted_excerpt
from headway_assets.assets.privacy import message_scopes, register_texts
from headway_assets.assets.raw_messages import OWNERS
from headway_assets.catalog import METHOD_NEW, Linker, LinkResult, engine_matcher
from headway_assets.catalog.model import RequestState
from headway_assets.catalog.store import load_work, orphan_mentions, write_pass
from headway_assets.core.pii import message_people
from headway_assets.core.warehouse.schema import FeatureMention, FeatureRequestMention, Message, Organization
from headway_assets.llm.engine import LlmEngine
from headway_assets.llm.redaction import PiiScope
from headway_assets.offline import match_predictor
from headway_assets.resources.llm import LlmResource
from headway_assets.resources.warehouse import WarehouseResource

CHECK_EVERY_MENTION_CATALOGUED = "every_mention_in_one_request"


class CatalogueConfig(dg.Config):
    """How a `feature_catalog` run works."""

    rebuild: bool = pydantic.Field(
        default=False, description="Rebuild from all mentions instead of linking only the new ones."
    )
    orgs: list[str] = pydantic.Field(
        default_factory=list, description="Organisations (slugs) to rebuild; empty means every one."
    )


def _request_people(
    conn: Connection, requests: list[RequestState], scopes: Mapping[int, PiiScope]
) -> dict[int, tuple[str, ...]]:
    """The people of every message behind each request (by `id()` of the request): its mentions of
    this run (their `scopes`, read before linking) and, for a stored request, all its linked
    mentions. A request's title was written by a model from such messages and is shown redacted
    with their people's names.

    A stored request's messages are read as their distinct authors and source metadata (the
    people come from those alone), so a request of thousands of mentions by a few hundred people
    costs a few hundred name parses, not one per message."""
    people: dict[int, dict[str, None]] = {}
    for request in requests:
        names = people.setdefault(id(request), {})
        for mention in request.mentions:
            scope = scopes.get(mention.message_id) if mention.message_id is not None else None
            if scope is not None:
                names.update(dict.fromkeys(scope.names))
    stored = {r.id: id(r) for r in requests if r.id is not None}
    if stored:
        authors = conn.execute(
            select(
                FeatureRequestMention.feature_request_id,
                Message.author_name,
                Message.author_email,
                Message.source_metadata,
            )
            .distinct()
            .join(FeatureMention, FeatureMention.id == FeatureRequestMention.mention_id)
            .join(Message, Message.id == FeatureMention.message_id)
            .where(FeatureRequestMention.feature_request_id.in_(list(stored)))
        )
        for request_id, author_name, author_email, metadata in authors:
            people[stored[request_id]].update(dict.fromkeys(message_people(author_name, author_email, metadata)))
    return {key: tuple(names) for key, names in people.items()}


@dg.asset(
    name="feature_catalog",
    automation_condition=FOLLOW_UPSTREAM,
    description="The de-duplicated catalogue of feature requests. Each run links only the mentions that "
    "have no request yet: candidates from the org's requests (same sub-theme, the rest of the theme, very "
    "close wordings anywhere), a near-identical title links at once, the matcher judges the rest in batched "
    "calls (AI match >= 0.75 joins, else a new request; two requests of a theme a mention surely bridges, "
    ">= 0.9, merge); counts, customers, first/last seen and trend are "
    "refreshed for the requests touched (customers and ARR from message_authors). "
    "People's corrections (pins, merges, renames, status) are kept. "
    "Run with config `rebuild: true` (job `catalogue_rebuild`) to rebuild from all mentions.",
    group_name=AI_GROUP,
    # The catalogue counts each request's customers from the mentions' resolved authors, and
    # message_authors recounts the requests whose authors changed: authors come first.
    deps=[feature_mentions, message_authors],
    kinds={"python", "sql", "llm"},
    owners=OWNERS,
    tags={"layer": "ai"},
    pool=LLM_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_EVERY_MENTION_CATALOGUED,
            asset="feature_catalog",
            description="Every feature mention belongs to exactly one catalogue request.",
        )
    ],
)
def feature_catalog(
    context: dg.AssetExecutionContext, config: CatalogueConfig, warehouse: WarehouseResource, llm: LlmResource
) -> dg.MaterializeResult:
    """Link new mentions (or, with `rebuild`, all of an org's mentions) into the catalogue."""
    with warehouse.read() as conn:
        org_slugs: dict[int, str] = dict(conn.execute(select(Organization.id, Organization.slug)).tuples().all())
        rebuild_orgs: set[int] = set()
        if config.rebuild:
            unknown = sorted(set(config.orgs) - set(org_slugs.values()))
            if unknown:
                raise dg.Failure(
                    f"cannot rebuild the catalogue of unknown organisation(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(org_slugs.values()))}"
                )
            rebuild_orgs = {org_id for org_id, slug in org_slugs.items() if not config.orgs or slug in config.orgs}
        work = load_work(conn, rebuild_orgs=rebuild_orgs)
    mode = "rebuilding" if rebuild_orgs else "linking"
    context.log.info(
        f"{mode}: {len(work.mentions)} mention(s) to place ({len(work.pinned)} pinned by people) "
        f"against {len(work.requests)} request(s)"
    )
    failures: list[str] = []

    with warehouse.read() as conn:
        scopes = message_scopes(conn, {m.message_id for m in work.mentions if m.message_id is not None})

    async def link(engine: LlmEngine) -> LinkResult:
        # A quote is its message's text: redacted with its message's people before a match call.
        quotes: dict[int, list[str]] = {}
        for mention in work.mentions:
            if mention.message_id is not None and mention.quote:
                quotes.setdefault(mention.message_id, []).append(mention.quote)
        register_texts(engine.privacy, scopes, quotes)
        # A hosted model's rounds are round trips: the offline matcher guesses its answers so a
        # round asks what later mentions will face (placements still use the model's answers only).
        linker = Linker(work.requests, engine_matcher(engine, failures), match_predictor(engine.provider.name))
        pinned = [m for m in work.mentions if m.id in work.pinned]
        for mention in sorted(pinned, key=lambda m: m.order_key):
            linker.pin(mention, work.pinned[mention.id])
        with engine.writing_behind():  # the offline matcher's answers: a few cache transactions, not one a call
            return await linker.link([m for m in work.mentions if m.id not in work.pinned])

    engine, result = run_with_engine(context, llm, warehouse, link, progress_every=None)
    shares = org_shares(work.mentions, lambda mention: mention.org_id, lambda mention: len(mention.title))
    record_usage(context, warehouse, engine, partition=None, shares=shares)
    joined = sum(1 for r in result.touched if r.id is not None)  # stored requests that gained mentions
    with warehouse.write() as conn:
        report = write_pass(conn, work, result.touched, result.merges)
    with warehouse.read() as conn:
        orphans = orphan_mentions(conn)
    if failures:
        context.log.warning(
            f"{len(failures)} AI match answer(s) failed ({', '.join(sorted(set(failures)))}); those mentions "
            "started requests of their own"
        )
    by_org = Counter(org_slugs.get(m.org_id, str(m.org_id)) for m in work.mentions)
    preview = sorted(result.touched, key=lambda r: (-len(r.links), r.key))[:PREVIEW_ROWS]
    with warehouse.read() as conn:
        people = _request_people(conn, preview, scopes)
    return dg.MaterializeResult(
        metadata={
            "mode": "rebuild" if rebuild_orgs else "incremental",
            "mentions_placed": len(work.mentions),
            "mentions_by_org": dg.MetadataValue.json(dict(sorted(by_org.items()))),
            "pinned_by_people": len(work.pinned),
            "requests_created": report.created + report.reused_ids,
            "requests_joined": joined,
            "requests_refreshed": report.refreshed,
            "requests_removed_by_rebuild": report.removed_by_rebuild,
            "links_written": report.links,
            "requests_merged": report.merged,
            "merge_suggestions_for_people": result.merge_suggestions,
            "match_methods": dg.MetadataValue.json(result.methods),
            # Counted once, by the linker: a failed answer is also a missing one (`failures` only
            # names their statuses for the log).
            "match_failures": result.match_failures,
            "touched_requests": dg.MetadataValue.md(
                markdown_table(
                    ["org", "request id", "title (redacted)", "mentions this run", "founded now", "sub-theme"],
                    [
                        (
                            org_slugs.get(r.org_id),
                            r.id if r.id is not None else "(new)",
                            redacted_excerpt(r.title, preview_redaction(names=people.get(id(r), ()), texts=[r.title])),
                            len(r.links),
                            "yes" if any(method == METHOD_NEW for _, method, _ in r.links) else "",
                            r.sub_theme,
                        )
                        for r in preview
                    ],
                )
            ),
            **llm_metadata(engine),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_EVERY_MENTION_CATALOGUED,
                passed=orphans == 0,
                metadata={"mentions_without_request": orphans},
            )
        ],
    )
