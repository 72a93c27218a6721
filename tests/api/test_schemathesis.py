"""Schemathesis over every operation of the OpenAPI document, on a seeded warehouse, with a real token.

Every operation (reads and writes: sign-in, sync requests, the Slack and Fathom integrations) is
called with generated requests, both valid ones (positive data) and ones that break the
documented schema (negative data), in schemathesis's examples, coverage and fuzzing phases, and
every answer goes through all of its checks: no 5xx, the body matches the documented response
schema, the status code, content type and headers are documented, valid input is never refused
with 422, invalid input is always refused with a 4xx, OPTIONS and 405 name every method of the
path. Runs on SQLite and on PostgreSQL (about 30 s and 40 s here).

Bounded for the suite: `HEADWAY_SCHEMATHESIS_EXAMPLES` fuzzed cases per operation (25 by default;
the coverage phase adds its own boundary cases), derandomized so a failure reproduces. The
larger run of docs/reliability.md, with a JSON summary of cases tried and failures found:

    HEADWAY_SCHEMATHESIS_EXAMPLES=1000 HEADWAY_SCHEMATHESIS_REPORT=/tmp/st.json \\
        .venv/bin/pytest tests/api/test_schemathesis.py -q -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi import from_dict

from headway_api.main import create_app
from headway_assets.core.settings import HeadwaySettings
from tests.api.support import Warehouse, api_settings

EXAMPLES = int(os.environ.get("HEADWAY_SCHEMATHESIS_EXAMPLES", "25"))
REPORT = os.environ.get("HEADWAY_SCHEMATHESIS_REPORT")

CONFIG: dict[str, Any] = {
    "generation": {"deterministic": True},
    "checks": {
        # A request the schema accepts may still name something that cannot be served: a cursor the
        # API never signed, a reversed range. That is a documented 400 (`invalid_cursor`,
        # `invalid_range`; the schema cannot express it), never a 422, which is kept for requests
        # the schema refuses. Schemathesis's default list lacks 400; everything else is its default.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "428", "429"]
        },
    },
}

# Cases tried and distinct failures, per backend, for the larger run's report.
CASES: Counter[str] = Counter()
FAILURES: dict[str, set[str]] = {}


def _document() -> dict[str, Any]:
    # The OpenAPI document needs no database: build it from an app that is never started, so the
    # operations are known when pytest collects (the test calls the seeded app of each backend).
    app = create_app(api_settings(), HeadwaySettings(database_url="sqlite://", data_dir=Path(".")))
    return app.openapi()


schema = from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))


@pytest.fixture(scope="module", autouse=True)
def _report(warehouse: Warehouse) -> Iterator[None]:
    """Write the cases tried and the failures found to HEADWAY_SCHEMATHESIS_REPORT, if set."""
    yield
    if REPORT:
        backend = "postgresql" if warehouse.url.startswith("postgresql") else "sqlite"
        path = Path(REPORT)
        summary = json.loads(path.read_text()) if path.exists() else {}
        summary[backend] = {
            "examples_per_operation": EXAMPLES,
            "cases": CASES[backend],
            "failures": sorted(FAILURES.get(backend, ())),
        }
        path.write_text(json.dumps(summary, indent=2) + "\n")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
def test_every_operation_meets_its_schema(
    case: schemathesis.Case, api: TestClient, headers_a: dict[str, str], warehouse: Warehouse
) -> None:
    backend = "postgresql" if warehouse.url.startswith("postgresql") else "sqlite"
    CASES[backend] += 1
    try:
        # Organisation A's member token on every request; the app in-process, over a real database.
        case.call_and_validate(app=api.app, headers=headers_a)
    except FailureGroup as group:
        for failure in group.exceptions:
            FAILURES.setdefault(backend, set()).add(f"{case.operation.label}: {failure.title}")
        raise
    except Exception as error:  # the app raised (an unhandled error, a 500 in production)
        FAILURES.setdefault(backend, set()).add(f"{case.operation.label}: {type(error).__name__}")
        raise
