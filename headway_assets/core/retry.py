"""The one retry policy of every vendor: a per-read budget, `Retry-After` honoured, backoff with jitter.

The live sources retry requests with it; the LLM engine takes its waits from it while it waits
out a provider outage (the SDKs retry single requests themselves, `HEADWAY_LLM_MAX_RETRIES`).

Each vendor's client decides *what* is worth retrying (Gong's 404 "no calls in range" is an
answer, Gmail retries 429/5xx and its rate-limit 403s, Fathom 429/5xx, Slack goes through
slack-sdk's retry handlers); this module decides *how*: every retry spends one unit of a
budget shared by the whole read, a server's `Retry-After` is waited out as asked unless it
is longer than the read may wait (then the read ends and the next run resumes), and without
one the wait grows exponentially (tenacity's `wait_exponential`) with jitter, so
connections that failed together do not retry in lockstep.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import tenacity

logger = logging.getLogger(__name__)


class RetryBudget:
    """Retries left for one whole read, shared by every request (and every handler) of the read."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.remaining = total
        self.spent = 0

    def take(self) -> bool:
        """Use one retry; False when the budget is gone."""
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        self.spent += 1
        return True


class RetryRefusedError(Exception):
    """The policy will not retry: the budget is spent (`wait` is None) or the wait asked is too long."""

    def __init__(self, message: str, *, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass
class _Attempt:
    """The one field of tenacity's `RetryCallState` its wait strategies read."""

    attempt_number: int


@dataclass
class RetryPolicy:
    """How one read retries: `base_seconds * 2**attempt` capped at `max_backoff_seconds`, jittered to 50-100 %.

    `max_wait_seconds` is the longest single wait (a `Retry-After` past it ends the read);
    `extra_jitter_seconds` adds up to that many random seconds to every wait, `Retry-After` too
    (Slack's `retry_jitter_seconds`: many clients told the same `Retry-After` must not return
    together); `sleep` and `rng` are injectable so tests record waits instead of sleeping them.
    """

    budget: RetryBudget
    base_seconds: float
    max_backoff_seconds: float
    max_wait_seconds: float
    extra_jitter_seconds: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """The jittered exponential wait before retry number `attempt` (0 for the first retry)."""
        ceiling = tenacity.wait_exponential(multiplier=self.base_seconds, max=self.max_backoff_seconds)(
            cast(tenacity.RetryCallState, _Attempt(attempt + 1))
        )
        return ceiling * self.rng.uniform(0.5, 1.0) + self._extra_jitter()

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry number `attempt`: the server's `retry_after` when it sent one, else the backoff."""
        return self.backoff(attempt) if retry_after is None else retry_after + self._extra_jitter()

    def _extra_jitter(self) -> float:
        return self.rng.uniform(0.0, self.extra_jitter_seconds) if self.extra_jitter_seconds > 0 else 0.0

    def allows_wait(self, retry_after: float | None) -> bool:
        """False when the server asks to wait longer than this read may."""
        return retry_after is None or retry_after <= self.max_wait_seconds

    def take(self, retry_after: float | None = None) -> bool:
        """Spend one retry without waiting (for SDK retry handlers that wait themselves, via `wait`).

        False, spending nothing, when the budget is gone or `retry_after` is longer than allowed.
        """
        return self.allows_wait(retry_after) and self.budget.take()

    def spend(
        self,
        attempt: int,
        retry_after: float | None = None,
        *,
        before_sleep: Callable[[float], None] | None = None,
    ) -> float:
        """Spend one retry and wait before it: `retry_after` when the server sent one, else the backoff.

        Raises `RetryRefusedError` (and neither spends nor waits) when the budget is gone or
        the wait would be longer than `max_wait_seconds`. Returns the wait slept.
        """
        if self.budget.remaining <= 0:
            raise RetryRefusedError(f"the retry budget of {self.budget.total} is spent")
        wait = self.wait(attempt, retry_after)
        asked = wait if retry_after is None else retry_after  # the jitter never makes a wait too long
        if not self.allows_wait(asked):
            raise RetryRefusedError(f"asked to wait {asked:g} s, more than {self.max_wait_seconds:g} s", wait=asked)
        self.budget.take()
        if before_sleep is not None:
            before_sleep(wait)
        self.sleep(wait)
        return wait
