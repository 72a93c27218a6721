"""Splitting long messages into overlapping chunks for tier-1, as the seed system did."""

from __future__ import annotations

from dataclasses import dataclass

CHUNK_THRESHOLD = 1_500  # messages longer than this are chunked
CHUNK_SIZE = 1_200
CHUNK_OVERLAP = 200
MAX_CHUNKS = 5


@dataclass(frozen=True, slots=True)
class Chunk:
    """A slice of a message: `text == message[start:end]`."""

    index: int
    start: int
    end: int
    text: str


def _cut_point(text: str, start: int, hard_end: int) -> int:
    """Prefer to end a chunk at a line or sentence break in its last quarter."""
    if hard_end >= len(text):
        return len(text)
    window_start = start + (hard_end - start) * 3 // 4
    for separator in ("\n", ". ", "? ", "! ", " "):
        position = text.rfind(separator, window_start, hard_end)
        if position != -1:
            return position + len(separator)
    return hard_end


def chunk_text(
    text: str,
    *,
    threshold: int = CHUNK_THRESHOLD,
    size: int = CHUNK_SIZE,
    overlap: int = CHUNK_OVERLAP,
    max_chunks: int = MAX_CHUNKS,
) -> list[Chunk]:
    """One chunk for short text; otherwise up to `max_chunks` chunks of about `size` characters,
    each starting `overlap` characters before the previous one ended.

    With more text than `max_chunks` chunks can hold, the chunks are spread evenly over the
    whole message (so the end of a long call is classified too), keeping the overlap rule
    within each neighbouring pair where the text allows.
    """
    if len(text) <= threshold:
        return [Chunk(0, 0, len(text), text)]
    step = size - overlap
    needed = 1 + max(0, -(-(len(text) - size) // step))
    if needed <= max_chunks:
        starts = [i * step for i in range(needed)]
    else:
        # Spread max_chunks windows evenly from the first to the last `size` characters.
        last_start = len(text) - size
        starts = [round(i * last_start / (max_chunks - 1)) for i in range(max_chunks)]
    chunks: list[Chunk] = []
    for index, start in enumerate(starts):
        is_last = index == len(starts) - 1
        end = len(text) if is_last else _cut_point(text, start, min(len(text), start + size))
        chunks.append(Chunk(index, start, end, text[start:end]))
    return chunks
