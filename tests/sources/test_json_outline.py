"""The shared JSON helpers the Gong and Fathom readers stream with: outlines, page items, repair, time order."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import ijson
import pytest

from headway_assets.sources.exports.limits import (
    ExportLimits,
    JsonShape,
    bounded_value,
    iter_bounded_items,
    iter_page_items,
    json_list_outline,
    json_shape,
    open_json,
    plausible_time,
    time_ordered,
)


def test_json_shape_names_top_level_types_without_building_the_document() -> None:
    shape = json_shape(io.BytesIO(b'{"calls": "x", "callTranscripts": [1, {"a": 2}], "n": 5, "z": null}'))
    assert shape == JsonShape(
        "an object",
        {"calls": "a string", "callTranscripts": "a list", "n": "a number", "z": "null"},
        False,
        lengths={"callTranscripts": 2},
    )
    assert json_shape(io.BytesIO(b"[1, [2], {}]")).top_items == 3
    assert json_shape(io.BytesIO(b'{"a": 1}\n{"a": 2}\n')).more_values is True
    deep = b"[" * 200_000 + b"]" * 200_000
    assert json_shape(io.BytesIO(deep)).top == "a list"  # no recursion, no tree built
    with pytest.raises(ijson.JSONError):
        json_shape(io.BytesIO(b'{"calls": ['))


def test_page_items_are_streamed_and_placed_in_their_page() -> None:
    data = b'[{"calls": [1, 2]}, "junk", {"calls": "x"}, {"calls": [3, [[[[1]]]], 4]}, {"other": []}]'
    outlines = json_list_outline(io.BytesIO(data))
    assert [o.top for o in outlines] == ["an object", "a string", "an object", "an object", "an object"]
    assert [o.lengths for o in outlines] == [{"calls": 2}, {}, {}, {"calls": 3}, {"other": 0}]
    items = list(iter_page_items(io.BytesIO(data), "calls", outlines, ExportLimits(max_json_depth=3)))
    assert [(page, item.index, item.value, item.skip_reason) for page, item in items] == [
        (1, 0, 1, None),
        (1, 1, 2, None),
        (4, 0, 3, None),
        (4, 1, None, "nested deeper than 3 levels"),
        (4, 2, 4, None),
    ]


def test_open_json_repairs_bom_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'\xef\xbb\xbf{"text": "caf\xe9 \xff ok"}')
    with open_json(path) as stream:
        assert list(ijson.items(stream, "text")) == ["caf\ufffd \ufffd ok"]


def test_time_ordered_keeps_untimed_values_after_their_neighbour() -> None:
    assert time_ordered([(5.0, "c"), (None, "c2"), (1.0, "a"), (3.0, "b"), (None, "b2")]) == ["a", "b", "b2", "c", "c2"]
    assert time_ordered([(None, "x"), (2.0, "z"), (1.0, "y")]) == ["x", "y", "z"]


def test_plausible_time_bounds() -> None:
    assert plausible_time(datetime(2026, 10, 3, tzinfo=UTC))
    assert not plausible_time(datetime(1901, 1, 1, tzinfo=UTC))
    assert not plausible_time(datetime(2300, 1, 1, tzinfo=UTC))


def test_bounded_items_skip_an_element_with_too_many_values_without_building_it() -> None:
    data = b'[{"a": [1, 2, 3]}, {"a": [' + b",".join(b"1" for _ in range(50)) + b']}, {"b": {"c": 1}}]'
    items = list(iter_bounded_items(io.BytesIO(data), (), ExportLimits(max_item_values=10)))
    assert [(i.index, i.value, i.skip_reason) for i in items] == [
        (0, {"a": [1, 2, 3]}, None),
        (1, None, "holds more than 10 JSON values"),
        (2, {"b": {"c": 1}}, None),
    ]


def test_bounded_value_parses_one_document_within_the_limits() -> None:
    assert bounded_value(b'{"a": [1, {"b": null}]}').value == {"a": [1, {"b": None}]}
    assert bounded_value(b"[" * 100 + b"]" * 100).skip_reason == "nested deeper than 64 levels"
    assert bounded_value(b"[" + b"1," * 20 + b"1]", ExportLimits(max_item_values=5)).skip_reason == (
        "holds more than 5 JSON values"
    )
    for bad in (b'{"a": ', b"1 2", b""):
        with pytest.raises(ijson.JSONError):
            bounded_value(bad)
