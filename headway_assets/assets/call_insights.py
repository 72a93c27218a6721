"""`call_insights`: call intelligence for every Gong and Fathom call, and customer health per day.

Per call: deal risk, churn risk and expansion potential (low, medium or high), each with short
reasons quoting the call, and the next steps agreed on it. By default (`HEADWAY_CALL_MODEL`
`headway-call-cues-1`) the cue-phrase heuristics of `offline/calls.py` read each whole call in-process,
whatever the provider: no LLM call, rows labelled provider `local-heuristics` (a model reading every
call cost about twice issue 15's whole per-message target, docs/benchmarks.md). With a provider model
as `HEADWAY_CALL_MODEL`, or as an organisation's own `call_model` setting (`headway orgs call-model`,
which overrides the deployment's for that organisation's calls), the model assesses each call
(`llm/tasks.py`, task `call`): several calls per request (`HEADWAY_CALL_BATCH_ITEMS`), the requests
of a run concurrent, every answer cached by the call's content, so re-materialising an unchanged day
makes no LLM call; in batch mode the requests go through the vendor's batch API and the calls stay
pending until it lands. Hosted
providers read a long call as an excerpt capped at `CALL_EXCERPT_MAX_CHARS`: the lines of any
speaker with a risk, expansion or next-step cue, then the customers' lines the local model finds
likely feedback (as tier-2 reads it), `[...]` between; the offline
provider reads the whole call with its cue-phrase heuristics (`offline/calls.py`). Quotes come
back with the message's placeholders put back and are stored only when found verbatim in the call.

After the calls, the days of the partition get their customers' health recomputed
(`core/warehouse/customer_health.py`): call risks and the sentiment of `message_insights`.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import dagster as dg
from sqlalchemy import Connection, select

from headway_assets.assets.ai_support import (
    AI_GROUP,
    LLM_POOL,
    BudgetCheck,
    llm_metadata,
    org_shares,
    record_usage,
    refresh_version,
    run_with_engine,
    within_budget,
)
from headway_assets.assets.automation import FOLLOW_UPSTREAM
from headway_assets.assets.insights import message_insights
from headway_assets.assets.local_model import (
    EXCERPT_GAP,
    EXCERPT_MIN_CHARS,
    excerpt_threshold,
    feedback_probabilities,
    internal_speakers,
    saves_tokens,
)
from headway_assets.assets.message_authors import message_authors
from headway_assets.assets.metadata import markdown_table, safe_error
from headway_assets.assets.partitions import DAILY_PARTITIONS, partition_label, partition_window
from headway_assets.assets.privacy import message_scopes, register_texts
from headway_assets.assets.raw_messages import OWNERS
from headway_assets.core.message import TimeWindow
from headway_assets.core.org_settings import NOT_OFFERED
from headway_assets.core.pii import Redaction
from headway_assets.core.warehouse.bulk import delete_for_messages, insert_rows
from headway_assets.core.warehouse.customer_health import refresh_customer_health
from headway_assets.core.warehouse.schema import CallInsight, Message, Organization, utc_now
from headway_assets.llm.engine import LlmEngine, LlmFailure
from headway_assets.llm.evidence import locate_quote
from headway_assets.llm.redaction import PiiScope, default_enabled
from headway_assets.llm.registry import CALL_CUES_MODEL
from headway_assets.llm.schemas import CallAssessment, CallInsightDraft
from headway_assets.llm.tasks import CALL, PROMPT_VERSIONS, CallInput
from headway_assets.offline import assess_call, signal_lines
from headway_assets.resources.llm import LlmResource, TaskVersion
from headway_assets.resources.warehouse import WarehouseResource

CALL_SOURCES: Final = ("gong", "fathom")
DIMENSIONS: Final = ("deal_risk", "churn_risk", "expansion_potential")
CHECK_EVERY_CALL_ASSESSED: Final = "every_call_assessed"
# Characters of a long call a hosted model reads at most (its cue lines first, then its likeliest
# feedback): on the demo corpus the uncapped excerpts had a median of 6,400 and a p90 of 13,000, the
# cue lines alone a median of 3,000; the levels on the labelled calls stay the same (docs/quality.md).
CALL_EXCERPT_MAX_CHARS: Final = 6_000
# The provider of rows the local heuristics made with a hosted provider configured (the API shows it).
CALL_LOCAL_PROVIDER: Final = "local-heuristics"


@dataclass(frozen=True, slots=True)
class CallToAssess:
    """A call of the window whose insight is missing or out of date."""

    message_id: int
    org_id: int
    source: str
    sent_at: Any
    text: str  # the whole call (quotes are looked for in it)
    item: CallInput  # what is sent (an excerpt for hosted providers)
    item_hash: str


def call_excerpt(
    text: str, internal: frozenset[str], threshold: float | None = None, max_chars: int = CALL_EXCERPT_MAX_CHARS
) -> str:
    """What a hosted model reads of a call: all of a short one; of a long one, at most `max_chars` of
    its lines, in order, `[...]` where lines were left out. Lines stay verbatim and are kept by
    priority until the cap: first the customers' lines with a cue (`offline.signal_lines`: risk,
    expansion, next step), then the vendor's lines with one (mostly next steps), then the customers'
    lines the local model gives at least the excerpt threshold of P(feedback), likeliest first."""
    limit = excerpt_threshold() if threshold is None else threshold
    lines = text.split("\n")
    if limit <= 0 or len(text) < EXCERPT_MIN_CHARS or len(lines) < 2:
        return text
    cues = signal_lines(text)
    customer = [i for i, line in enumerate(lines) if line.strip() and line.split(":", 1)[0].strip() not in internal]
    likely = sorted(
        (
            (-probability, index)
            for index, probability in zip(customer, feedback_probabilities([lines[i] for i in customer]), strict=True)
            if probability >= limit and index not in cues
        ),
    )
    ranked = (
        [i for i in customer if i in cues]
        + sorted(cues.difference(customer))
        + [index for _probability, index in likely]
    )
    keep: set[int] = set()
    chars = 0
    for index in ranked:
        # A line and the gap marker before it; a line that does not fit is skipped, a shorter one may.
        length = len(lines[index]) + len(EXCERPT_GAP) + 2
        if chars + length <= max_chars or not keep:
            keep.add(index)
            chars += length
    pieces: list[str] = []
    for index, line in enumerate(lines):
        if index in keep:
            pieces.append(line)
        elif not pieces or pieces[-1] != EXCERPT_GAP:
            pieces.append(EXCERPT_GAP)
    excerpt = "\n".join(pieces)
    return excerpt if len(excerpt) < len(text) else text


def _item_hash(item: CallInput, privacy: str) -> str:
    payload = {
        "text": item.text,
        "source": item.source,
        "customer": item.customer,
        "title": item.title,
        "internal": list(item.internal_speakers),
        # Quotes are restored with this call's redaction: an answer made under another must not be reused.
        "privacy": privacy,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _call_input(row: Any, internal: frozenset[str], excerpt: bool) -> CallInput:
    """What an assessor reads of the call `row`: the whole call, or with `excerpt` what a model reads."""
    return CallInput(
        text=call_excerpt(row.text, internal) if excerpt else row.text,
        source=row.source,
        customer=row.customer,
        title=row.title,
        internal_speakers=tuple(sorted(internal)),
    )


def _sent_as_excerpt(provider: str | None) -> bool:
    """Whether a stored insight's call was sent as an excerpt: by a hosted provider's model, not by
    the local heuristics or the offline provider (both read the whole call)."""
    return provider is not None and provider != CALL_LOCAL_PROVIDER and saves_tokens(provider)


def calls_to_assess(
    conn: Connection,
    window: TimeWindow,
    scopes: Mapping[int, PiiScope],
    *,
    excerpt_orgs: Collection[int] = (),
    stale_unless: TaskVersion | None = None,
) -> tuple[list[CallToAssess], int]:
    """The window's calls whose insight is missing, made from other content (or under another
    redaction), or, with `stale_unless`, made with another model (the organisation's own, see
    `TaskVersion.org_models`) or prompt version; and how many calls the window has. `scopes` are the
    calls' redaction scopes (`message_scopes`); the calls of `excerpt_orgs` are sent to a model as an
    excerpt.

    A call is compared with what its stored insight's assessor read of it (the whole call or its
    excerpt): an organisation that switched between the heuristics and a model keeps its unchanged
    calls' insights until a run refreshes stale outcomes, as a deployment-wide switch does."""
    rows = conn.execute(
        select(
            Message.id,
            Message.org_id,
            Message.source,
            Message.sent_at,
            Message.customer,
            Message.title,
            Message.text,
            Message.source_metadata,
            CallInsight.content_hash.label("insight_hash"),
            CallInsight.provider,
            CallInsight.model,
            CallInsight.prompt_version,
        )
        .outerjoin(CallInsight, CallInsight.message_id == Message.id)
        .where(Message.source.in_(CALL_SOURCES), Message.sent_at >= window.start, Message.sent_at < window.end)
        .order_by(Message.sent_at, Message.id)
    ).all()
    default = PiiScope(enabled=default_enabled())
    due: list[CallToAssess] = []
    for row in rows:
        internal = internal_speakers(row.source_metadata)
        fingerprint = scopes.get(row.id, default).fingerprint()
        excerpt = row.org_id in excerpt_orgs
        item = _call_input(row, internal, excerpt)
        item_hash = _item_hash(item, fingerprint)
        unchanged = row.insight_hash == item_hash
        if not unchanged and row.insight_hash is not None and _sent_as_excerpt(row.provider) != excerpt:
            # Made by the other assessor: unchanged when it matches what that assessor read.
            unchanged = row.insight_hash == _item_hash(_call_input(row, internal, not excerpt), fingerprint)
        stale = stale_unless is not None and stale_unless.differs(row.model, row.prompt_version, row.org_id)
        if not unchanged or stale:
            due.append(CallToAssess(row.id, row.org_id, row.source, row.sent_at, row.text, item, item_hash))
    return due, len(rows)


def _restore(text: str, redaction: Redaction | None) -> str:
    return redaction.restore(text) if redaction is not None else text


def _located(text: str, quote: str) -> tuple[int, str] | None:
    located = locate_quote(text, quote)
    return located if located is not None and len(located[1]) >= 8 else None


def insight_row(
    call: CallToAssess, answer: CallInsightDraft, made_by: tuple[str, str], redaction: Redaction | None
) -> dict[str, Any]:
    """The `call_insights` row of one answered call, `made_by` (provider, model): placeholders put
    back, every quote located in the call (a reason or next step whose quote is not in it is dropped
    and counted)."""
    rejected = 0
    reasons: dict[str, list[dict[str, Any]]] = {}
    for dimension in DIMENSIONS:
        assessment: CallAssessment = getattr(answer, dimension)
        kept = []
        for reason in assessment.reasons:
            located = _located(call.text, _restore(reason.quote, redaction))
            if located is None:
                rejected += 1
                continue
            start, quote = located
            kept.append({"reason": _restore(reason.reason, redaction), "quote": quote, "start": start})
        reasons[dimension] = kept
    steps = []
    for step in answer.next_steps:
        located = _located(call.text, _restore(step.quote, redaction))
        if located is None:
            rejected += 1
            continue
        start, quote = located
        steps.append({"action": _restore(step.action, redaction), "owner": step.owner, "quote": quote, "start": start})
    return {
        "message_id": call.message_id,
        "org_id": call.org_id,
        "source": call.source,
        "sent_at": call.sent_at,
        "content_hash": call.item_hash,
        "deal_risk": answer.deal_risk.level,
        "churn_risk": answer.churn_risk.level,
        "expansion_potential": answer.expansion_potential.level,
        "reasons": reasons,
        "next_steps": {"steps": steps},
        "rejected_quotes": rejected,
        "provider": made_by[0],
        "model": made_by[1],
        "prompt_version": PROMPT_VERSIONS[CALL],
        "created_at": utc_now(),
    }


def local_insight_rows(due: Sequence[CallToAssess]) -> list[dict[str, Any]]:
    """The rows of `due` assessed by the cue-phrase heuristics in-process, each on the whole call
    (nothing leaves the process, so nothing is redacted; the quotes are the call's own sentences)."""
    return [insight_row(call, assess_call(call.item), (CALL_LOCAL_PROVIDER, CALL_CUES_MODEL), None) for call in due]


@dg.asset(
    name="call_insights",
    automation_condition=FOLLOW_UPSTREAM,
    description="Call intelligence for every Gong and Fathom call: deal risk, churn risk and expansion potential "
    "(low/medium/high), each with short reasons quoting the call verbatim, and the next steps agreed. By default "
    "the local cue-phrase heuristics read each whole call (no LLM call; provider local-heuristics); with "
    "HEADWAY_CALL_MODEL or an organisation's call_model setting naming a provider model, several calls per LLM "
    "request (a capped excerpt of a long call), cached by content: an unchanged day costs nothing. Then "
    "recomputes the day's customer health "
    "(0-100) from call risks and message sentiment.",
    group_name=AI_GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[message_authors, message_insights],
    kinds={"python", "sql", "llm"},
    owners=OWNERS,
    tags={"layer": "ai"},
    pool=LLM_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_EVERY_CALL_ASSESSED,
            asset="call_insights",
            description="Every Gong and Fathom call of the partition has a current call insight.",
        )
    ],
)
def call_insights(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LlmResource
) -> dg.MaterializeResult:
    """Assess the window's calls, each by its organisation's assessor, and recompute its customer health."""
    window = partition_window(context)
    label = partition_label(context)
    with warehouse.read() as conn:
        call_orgs = dict(
            conn.execute(
                select(Message.id, Message.org_id).where(
                    Message.source.in_(CALL_SOURCES), Message.sent_at >= window.start, Message.sent_at < window.end
                )
            )
            .tuples()
            .all()
        )
        scopes = message_scopes(conn, list(call_orgs))
        assessors = org_call_models(context, conn, llm, set(call_orgs.values()))
        stale_unless = refresh_version(context, llm, CALL)
        if stale_unless is not None:
            own = ((org_id, model) for org_id, (_slug, model) in assessors.items() if model != stale_unless.model)
            stale_unless = replace(stale_unless, org_models=tuple(sorted(own)))
        # The heuristics read the whole call; only a model is sent an excerpt (it pays per token).
        excerpt_orgs = (
            {org_id for org_id, (_slug, model) in assessors.items() if model != CALL_CUES_MODEL}
            if saves_tokens(llm.provider_name)
            else set()
        )
        due, total = calls_to_assess(conn, window, scopes, excerpt_orgs=excerpt_orgs, stale_unless=stale_unless)
    outstanding = len(due)

    def model_of(call: CallToAssess) -> str:
        return assessors[call.org_id][1]

    # In-process work costs nothing: no organisation's budget holds it, no batch waits for it.
    held, budget = within_budget(context, warehouse, [c for c in due if model_of(c) != CALL_CUES_MODEL], _org_of)
    kept = {call.message_id for call in held}
    due = [call for call in due if model_of(call) == CALL_CUES_MODEL or call.message_id in kept]
    due = due[: llm.item_cap] if llm.item_cap else due
    rows = local_insight_rows([call for call in due if model_of(call) == CALL_CUES_MODEL])
    failures: list[tuple[int, str]] = []
    engines: list[LlmEngine] = []
    # One engine per model the window's organisations use (even with nothing due: its metadata says
    # so): each records its own spend and submits its own vendor batches.
    for model in sorted({model for _slug, model in assessors.values()} - {CALL_CUES_MODEL}):
        asked = [call for call in due if model_of(call) == model]
        engine, answered, failed = _assess_with_model(context, llm, warehouse, scopes, model, asked)
        engines.append(engine)
        rows += answered
        failures += failed
    health_rows = _write(warehouse, window, rows)
    # The calls that were current stay so, and each row written makes its call current: no second
    # pass over the window (its excerpts run the local model over every line of every call).
    remaining = outstanding - len(rows)
    metadata = _metadata(label, total, rows, failures, remaining, health_rows, budget, engines, assessors)
    return _result(metadata, total, remaining)


def _org_of(call: CallToAssess) -> int:
    return call.org_id


def org_call_models(
    context: dg.AssetExecutionContext, conn: Connection, llm: LlmResource, org_ids: Collection[int]
) -> dict[int, tuple[str, str]]:
    """Each organisation's (slug, call model) by the kernel's rule (`core.org_settings.applied_call_model`,
    which GET /v1/organization/settings shows as `call_model.effective`): its own `call_model` setting,
    else HEADWAY_CALL_MODEL. A setting the configured provider does not have (it changed since) falls
    back to HEADWAY_CALL_MODEL, with a warning naming the allowed values."""
    rows = conn.execute(
        select(Organization.id, Organization.slug, Organization.settings).where(Organization.id.in_(list(org_ids)))
    )
    models: dict[int, tuple[str, str]] = {}
    for org_id, slug, settings in rows:
        applied = llm.applied_call_model(settings)
        if applied.reason is not None and applied.reason.code == NOT_OFFERED:
            context.log.warning(f"organisation {slug}: {applied.reason.message}")
        models[int(org_id)] = (slug, str(applied.value))
    return models


def _assess_with_model(
    context: dg.AssetExecutionContext,
    llm: LlmResource,
    warehouse: WarehouseResource,
    scopes: Mapping[int, PiiScope],
    model: str,
    due: Sequence[CallToAssess],
) -> tuple[LlmEngine, list[dict[str, Any]], list[tuple[int, str]]]:
    """`due` assessed by `model` (live or through a vendor batch), its spend recorded: the engine, the
    rows of the answered calls and the failures."""

    async def work(engine: LlmEngine) -> dict[str, CallInsightDraft | LlmFailure]:
        register_texts(engine.privacy, scopes, {call.message_id: [call.item.text] for call in due})
        return await engine.assess_calls({call.item_hash: call.item for call in due})

    shares = org_shares(due, _org_of, lambda call: len(call.item.text))
    engine, answers = run_with_engine(
        context, llm, warehouse, work, progress_every=50, shares=shares, models={CALL: model}
    )
    rows: list[dict[str, Any]] = []
    failures: list[tuple[int, str]] = []
    for call in due:
        answer = answers.get(call.item_hash)
        if isinstance(answer, CallInsightDraft):
            made_by = (engine.provider.name, engine.model(CALL))
            rows.append(insight_row(call, answer, made_by, engine.privacy.call_redaction(call.item)))
        elif answer is not None:
            failures.append((call.message_id, f"{answer.status}: {answer.error}"))
    record_usage(context, warehouse, engine, partition=partition_label(context), shares=shares)
    return engine, rows, failures


def _write(warehouse: WarehouseResource, window: TimeWindow, rows: Sequence[dict[str, Any]]) -> int:
    """Replace the rows' calls' insights and recompute the window's customer health (its row count)."""
    with warehouse.write() as conn:
        delete_for_messages(conn, CallInsight, [row["message_id"] for row in rows])
        insert_rows(conn, CallInsight, list(rows))
        return refresh_customer_health(conn, window)


def _result(metadata: dict[str, Any], total: int, remaining: int) -> dg.MaterializeResult:
    """The materialisation: `metadata` and the `every_call_assessed` check (what is left of the window)."""
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_EVERY_CALL_ASSESSED,
                passed=remaining == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"calls": total, "without_current_insight": remaining},
            )
        ],
    )


def _metadata(
    label: str,
    total: int,
    rows: Sequence[dict[str, Any]],
    failures: Sequence[tuple[int, str]],
    remaining: int,
    health_rows: int,
    budget: BudgetCheck,
    engines: Sequence[LlmEngine],
    assessors: Mapping[int, tuple[str, str]],
) -> dict[str, Any]:
    """Counts, levels and ids only: reasons and quotes are the customers' words. `engines` are empty
    when the local heuristics assessed every call (no LLM call); `assessors` are the window's
    organisations' (slug, call model)."""
    levels = {dimension: dict(sorted(Counter(row[dimension] for row in rows).items())) for dimension in DIMENSIONS}
    assessed = Counter(row["org_id"] for row in rows)
    by_org = {org_id: model != CALL_CUES_MODEL for org_id, (_slug, model) in assessors.items()}
    provider_name = engines[0].provider.name if engines else CALL_LOCAL_PROVIDER
    preview = [
        (
            row["message_id"],
            row["source"],
            row["deal_risk"],
            row["churn_risk"],
            row["expansion_potential"],
            len(row["next_steps"]["steps"]),
        )
        for row in rows[:10]
    ]
    return {
        "partition": label,
        "calls": total,
        "assessed_this_run": len(rows),
        "failed": len(failures),
        "remaining": remaining,
        "rejected_quotes": sum(row["rejected_quotes"] for row in rows),
        "customer_health_rows": health_rows,
        **budget.metadata(),
        "levels": dg.MetadataValue.json(levels),
        "failures": dg.MetadataValue.md(
            markdown_table(["message id", "error"], [(i, safe_error(e)) for i, e in failures], limit=20)
        ),
        "preview": dg.MetadataValue.md(
            markdown_table(["message id", "source", "deal risk", "churn risk", "expansion", "next steps"], preview)
        ),
        "assessed_by": ", ".join(sorted({"llm" if e else CALL_LOCAL_PROVIDER for e in by_org.values()}))
        or CALL_LOCAL_PROVIDER,
        # Per organisation (slug): the assessor of its calls in this run and how many it assessed.
        "assessed_by_org": dg.MetadataValue.json(
            {
                slug: {
                    "provider": provider_name if model != CALL_CUES_MODEL else CALL_LOCAL_PROVIDER,
                    "model": model,
                    "assessed": assessed[org_id],
                }
                for org_id, (slug, model) in sorted(assessors.items(), key=lambda item: item[1][0])
            }
        ),
        **(llm_metadata(*engines) if engines else {"llm_calls": 0, "llm_cost_usd": 0.0}),
    }
