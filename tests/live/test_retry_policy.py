"""The shared retry policy of the live sources: budget, Retry-After, exponential backoff with jitter."""

from __future__ import annotations

import random

import pytest

from headway_assets.core.retry import RetryBudget, RetryPolicy, RetryRefusedError


def policy(budget: int = 5, *, sleeps: list[float], max_wait: float = 10.0) -> RetryPolicy:
    """A policy with base 1 s, backoff capped at 4 s, that records its waits in `sleeps`."""
    return RetryPolicy(
        budget=RetryBudget(budget),
        base_seconds=1.0,
        max_backoff_seconds=4.0,
        max_wait_seconds=max_wait,
        sleep=sleeps.append,
        rng=random.Random(7),
    )


def test_backoff_doubles_within_the_cap_and_jitters_down_to_half() -> None:
    sleeps: list[float] = []
    retry = policy(sleeps=sleeps)
    for attempt in range(5):
        retry.spend(attempt)
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))
    assert len(set(sleeps)) == len(sleeps)  # jittered, not lockstep


def test_retry_after_is_waited_exactly_even_when_fractional() -> None:
    sleeps: list[float] = []
    retry = policy(sleeps=sleeps)
    assert retry.spend(3, 0.25) == 0.25
    assert retry.spend(0, 7.5) == 7.5
    assert sleeps == [0.25, 7.5]


def test_a_wait_longer_than_allowed_is_refused_without_spending_or_sleeping() -> None:
    sleeps: list[float] = []
    retry = policy(sleeps=sleeps, max_wait=5.0)
    assert not retry.allows_wait(60.0) and retry.allows_wait(5.0) and retry.allows_wait(None)
    with pytest.raises(RetryRefusedError) as refused:
        retry.spend(0, 60.0)
    assert refused.value.wait == 60.0
    assert sleeps == [] and retry.budget.remaining == 5


def test_the_budget_is_shared_and_refuses_once_spent() -> None:
    sleeps: list[float] = []
    budget = RetryBudget(3)
    first = RetryPolicy(budget=budget, base_seconds=0, max_backoff_seconds=0, max_wait_seconds=1, sleep=sleeps.append)
    second = RetryPolicy(budget=budget, base_seconds=0, max_backoff_seconds=0, max_wait_seconds=1, sleep=sleeps.append)
    first.spend(0)
    second.spend(0)
    first.spend(1)
    with pytest.raises(RetryRefusedError) as refused:
        second.spend(0)
    assert refused.value.wait is None
    assert budget.spent == 3 and budget.remaining == 0 and not budget.take()
    assert sleeps == [0, 0, 0]


def test_before_sleep_sees_the_wait_after_the_retry_is_spent() -> None:
    seen: list[tuple[float, int]] = []
    retry = policy(budget=2, sleeps=[])
    retry.spend(0, 1.5, before_sleep=lambda wait: seen.append((wait, retry.budget.remaining)))
    assert seen == [(1.5, 1)]


def test_extra_jitter_is_added_to_every_wait_but_never_refuses_an_allowed_retry_after() -> None:
    sleeps: list[float] = []
    retry = RetryPolicy(
        budget=RetryBudget(10),
        base_seconds=1.0,
        max_backoff_seconds=1.0,
        max_wait_seconds=2.0,
        extra_jitter_seconds=0.5,
        sleep=sleeps.append,
        rng=random.Random(3),
    )
    retry.spend(0, 2.0)  # exactly the longest wait: allowed, then jittered past it
    retry.spend(0)
    assert 2.0 <= sleeps[0] <= 2.5 and 0.5 <= sleeps[1] <= 1.5
    assert retry.take(2.0) and not retry.take(2.5)
    assert retry.budget.remaining == 7


def test_take_spends_without_waiting_and_wait_matches_the_backoff_bounds() -> None:
    sleeps: list[float] = []
    retry = policy(budget=1, sleeps=sleeps)
    assert 1.0 <= retry.wait(1) <= 2.0 and retry.wait(0, 3.0) == 3.0
    assert retry.take() and not retry.take()
    assert sleeps == []
