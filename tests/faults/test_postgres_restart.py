"""PostgreSQL restarted under a running pipeline: the run fails cleanly, nothing is half-written, and
a re-run converges to the state an undisturbed run reaches.

The pipeline (raw ingestion and tier-1, offline provider) runs in a child process against a
private cluster (see conftest.py). While a write transaction is open (a raw connection's window,
or a tier-1 slice's labels: the child pauses inside it) the server is restarted in `immediate`
mode, a crash that cuts every session. The run must then fail with a clear database error
rather than hang or half-commit; what was committed before stays whole; the re-run ends in the
same messages and tier-1 outcomes as a run on a second database that nobody disturbed.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import migrate, read_connection, write_transaction
from headway_assets.core.warehouse.ingestion import active_connections
from headway_assets.core.warehouse.schema import Message, MessageLabel
from headway_assets.demo import DemoManifest, seed_demo
from tests.assets.conftest import MaterializeFn, resources_for
from tests.faults.conftest import PrivateCluster
from tests.faults.support import (
    SOURCES,
    ChildRun,
    assert_whole_connections,
    child_args,
    child_env,
    count,
    expected_messages,
    label_outcomes,
    message_keys,
    window_of,
)

FIRST, LAST = "2026-10-01", "2026-10-05"
LLM = {"provider": "offline", "max_in_flight": 1, "tier1_batch_items": 5}  # as the child's environment
# What a client sees when its server goes away mid-transaction (psycopg / libpq wording).
CONNECTION_LOST = ("server closed the connection", "terminating connection", "consuming input failed")


def _warehouse(cluster: PrivateCluster, prefix: str, corpus: DemoManifest, data_dir: Path) -> str:
    url = cluster.create_database(prefix)
    migrate(url)
    with write_transaction(url) as conn:
        seed_demo(conn, corpus, data_dir=data_dir)
    return url


@pytest.fixture(scope="module")
def undisturbed(
    private_postgres: PrivateCluster, demo_corpus: DemoManifest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A warehouse on the private cluster after a run nobody disturbed (in-process: it needs no
    process of its own), with the settings of the disturbed runs."""
    data_dir = tmp_path_factory.mktemp("undisturbed")
    url = _warehouse(private_postgres, "undisturbed", demo_corpus, data_dir)
    result = dg.materialize(
        [*RAW_MESSAGE_ASSETS, message_labels],
        resources=resources_for(url, data_dir, **LLM),
        tags={"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return url


@pytest.mark.slow
@pytest.mark.parametrize("where", ["raw", "labels"])
def test_a_postgres_restart_mid_run_fails_cleanly_and_the_rerun_converges(
    private_postgres: PrivateCluster,
    undisturbed: str,
    demo_corpus: DemoManifest,
    tmp_path: Path,
    materialize_assets: MaterializeFn,
    where: str,
) -> None:
    disturbed = _warehouse(private_postgres, "disturbed", demo_corpus, tmp_path)
    # The offline provider (the same answers in both warehouses), one call at a time, so that
    # tier-1 commits in slices of 100 messages (engine.MIN_SLICE_ITEMS).
    env = child_env(tmp_path, HEADWAY_LLM_MAX_IN_FLIGHT="1", HEADWAY_TIER1_BATCH_ITEMS="5")
    expected = expected_messages(disturbed, tmp_path, window_of(FIRST, LAST))

    resume = tmp_path / "resume"
    pause = ("--pause-in-write", f"{where}:60", "--pause-from", "2", "--resume-file", str(resume))
    run = ChildRun.start(env, *child_args(disturbed, tmp_path, FIRST, LAST, "raw,labels", *pause))
    # The second write transaction of that kind is open (the first has committed): crash the server.
    crashed = run.wait_for(lambda e: e["event"] == "in_transaction" and e["paused"])
    assert crashed["where"] == where
    private_postgres.restart("immediate")
    resume.touch()  # the server is back: let the run go on, on its cut connection
    done = run.finish(timeout=120)
    assert not done["success"], "the run cannot have committed through a crashed server"
    assert len(done["errors"]) == 1, "one step failed (the others of the run do not depend on it)"
    error = done["errors"][0]
    assert "OperationalError" in error and any(phrase in error for phrase in CONNECTION_LOST), error

    # Nothing half-written: whole connections or nothing, no sync run left running, labels only
    # for stored messages and only whole committed slices.
    complete, _ = assert_whole_connections(disturbed, expected)
    labels = count(disturbed, MessageLabel)
    with read_connection(disturbed) as conn:
        orphans = conn.execute(
            select(MessageLabel.message_id).where(MessageLabel.message_id.not_in(select(Message.id)))
        ).all()
    assert not orphans
    if where == "raw":
        # The crashed connection's step failed, tier-1 (downstream) did not start; the raw steps of
        # the other sources do not depend on it and ran once the server was back.
        with read_connection(disturbed) as conn:
            by_label = {c.label: c.id for source in SOURCES for c in active_connections(conn, source)}
        assert set(expected) - complete == {by_label[crashed["connection"]]}
        assert labels == 0
    else:
        assert complete == set(expected), "ingestion had finished before the crash"
        first_slice = next(e for e in run.seen if e["event"] == "in_transaction" and not e["paused"])
        assert first_slice["where"] == "labels"
        assert labels == first_slice["rows"] < count(disturbed, Message), "only the first slice committed"

    # Run again (in-process: the crash is over) and reach the undisturbed end state.
    rerun = materialize_assets([*RAW_MESSAGE_ASSETS, message_labels], disturbed, first=FIRST, last=LAST, **LLM)
    assert rerun.success
    complete, empty = assert_whole_connections(disturbed, expected)
    assert complete == set(expected) and not empty
    assert message_keys(disturbed) == message_keys(undisturbed)
    assert label_outcomes(disturbed) == label_outcomes(undisturbed)
    assert len(label_outcomes(disturbed)) == count(disturbed, Message), "every message has one outcome"
