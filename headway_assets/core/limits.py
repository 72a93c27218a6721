"""Limits every layer agrees on, defined once here so the pipeline, the demo corpus and the tests
cannot drift apart."""

from __future__ import annotations

from typing import Final

# Messages longer than this are never sent to a model (outcome `skipped_oversized`); the demo
# corpus writes some on purpose so the skip is exercised (DESIGN.md).
OVERSIZED_CHARS: Final = 50_000
