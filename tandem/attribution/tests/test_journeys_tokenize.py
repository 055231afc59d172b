"""The byte-level path tokenizer gives exactly what splitting the strings gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.attribution.engine import JourneyError, Journeys
from tandem.attribution.engine import tokenize as tk

NAMES = st.sampled_from(
    [
        "email",
        "paid_search",
        "organic_search",
        "organic_social",
        "a",
        "Рассылка",
        "event\xa0",
        "a very long channel name over sixteen bytes",
        "a very long channel name over sixteen bytes!",
        "x y",
    ]
)
SPACES = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def path_lists(draw: st.DrawFn) -> list[str]:
    paths = []
    for _ in range(draw(st.integers(1, 30))):
        items = draw(st.lists(NAMES, min_size=1, max_size=8))
        paths.append(">".join(draw(SPACES) + i + draw(SPACES) for i in items))
    return paths


def split_reference(paths: list[str]) -> tuple[list[list[str]], list[int]]:
    return [[t.strip() for t in p.split(">")] for p in paths], [p.count(">") + 1 for p in paths]


@settings(max_examples=200, deadline=None)
@given(path_lists())
def test_same_as_split(paths: list[str]) -> None:
    out = tk.tokenize_paths(paths, ">")
    assert out is not None
    ids, lengths, raw = out
    expected, expected_lengths = split_reference(paths)
    assert lengths.tolist() == expected_lengths
    flat = [raw[i].strip() for i in ids.tolist()]
    assert flat == [t for p in expected for t in p]
    # Distinct items get distinct ids (an item may have several ids: see `_words`).
    by_id = dict(zip(ids.tolist(), flat, strict=True))
    assert len(by_id) == len(raw)


@settings(max_examples=50, deadline=None)
@given(path_lists())
def test_slot_collisions_fall_back_exactly(paths: list[str]) -> None:
    # A 1-slot table makes every distinct item collide: the sort-based fallback must run.
    out = tk.tokenize_paths(paths, ">")
    assert out is not None
    ids, _lengths, raw = out
    joined = ">".join(paths).encode()
    cuts = np.flatnonzero(np.frombuffer(joined, np.uint8) == ord(">"))
    bounds = np.concatenate([[-1], cuts, [len(joined)]]).astype(np.int64)
    length = np.diff(bounds) - 1
    start = bounds[:-1] + 1
    words = tk._words(joined, start, bounds[1:], length)
    ids1, first1 = tk._exact_ids(words, length, bits=1)
    assert [raw[i] for i in ids.tolist()] == [
        joined[start[f] : start[f] + length[f]].decode() for f in first1[ids1].tolist()
    ]


@settings(max_examples=50, deadline=None)
@given(path_lists())
def test_paths_read_in_place_from_a_buffer_give_the_same_items(paths: list[str]) -> None:
    # Each path sits in a record with other fields around it, as in a CSV file.
    records = [f"{i},{p},{i * 7}\n".encode() for i, p in enumerate(paths)]
    data = b"".join(records)
    ends = np.cumsum([len(r) for r in records])
    starts = np.concatenate([[0], ends[:-1]]) + np.array([len(f"{i},") for i in range(len(paths))])
    stops = starts + np.array([len(p.encode()) for p in paths])
    ids, lengths, raw = tk.tokenize_spans(data, starts.astype(np.int64), stops.astype(np.int64))
    expected = tk.tokenize_paths(paths, ">")
    assert expected is not None
    want_ids, want_lengths, want_raw = expected
    assert lengths.tolist() == want_lengths.tolist()
    assert [raw[i] for i in ids.tolist()] == [want_raw[i] for i in want_ids.tolist()]
    assert len(set(raw)) == len(raw)  # one raw item per distinct item, whatever its neighbours


def test_from_paths_matches_the_string_split() -> None:
    paths = ["a > b", "b>  c > a", "Рассылка > a", "c"]
    j = Journeys.from_paths(paths, [1, 0, 1, 0], [10.0, 0, 5.0, 0], [0, 1, 0, 1])
    assert j.channels == ("a", "b", "c", "Рассылка")
    assert j.path_strings() == ["a > b", "b > c > a", "Рассылка > a", "c"]
    assert j.offsets.tolist() == [0, 2, 5, 7, 8]


@pytest.mark.parametrize(("paths", "row"), [(["a > b", "a >> b"], 1), (["a", " "], 1)])
def test_empty_items_name_the_row(paths: list[str], row: int) -> None:
    with pytest.raises(JourneyError, match=f"row {row}: empty channel name"):
        Journeys.from_paths(paths, [1] * len(paths))


def test_no_paths_and_other_separators() -> None:
    assert Journeys.from_paths([], []).n_journeys == 0
    assert tk.tokenize_paths(["a => b"], "=>") is None  # multi-character: the plain split
    j = Journeys.from_paths(["a => b"], [1], sep="=>")
    assert j.path_strings() == ["a > b"]
