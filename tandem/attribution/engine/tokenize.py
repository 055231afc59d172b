"""Byte-level, vectorised tokenizer for ``"a > b > c"`` path strings.

`tokenize_paths(paths, sep)` returns, for the items of all paths in order, an id per item
(``ids``), the items per path (``lengths``) and the distinct raw items (``raw``, indexed by
id; spaces kept: ``" b "`` and ``"b"`` are two raw items the caller strips to one name).
It is exactly ``sep.join(paths).split(sep)`` followed by a dictionary of distinct items,
without making a Python string per item:

1. the paths are joined once and encoded to UTF-8; separator positions come from one
   comparison over the bytes (``sep`` is one ASCII character, so it never occurs inside a
   multi-byte UTF-8 sequence); items per path come from the path lengths (ASCII text) or
   ``str.count``;
2. an item's bytes are read as little-endian 64-bit words through an unaligned strided view
   of the buffer (the first word shifted past the item's end, whole inner words, the last
   8 bytes); together with its length these words *are* the item: equal words and length
   mean equal bytes;
3. the words are hashed into a 2^16-slot table; every item is compared word for word with
   the item its slot kept; if any differs (two distinct items share a slot) the ids come
   from ``np.unique`` over the words instead. Either way ids are exact, never probabilistic.

Distinct raw items are few (channels times their spacing variants), so stripping and naming
them in Python costs nothing. Returns None when the fast path does not apply (``sep`` is
not one ASCII character, or a path is not a str); callers then split the strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
U64 = NDArray[np.uint64]

_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)
_TABLE_BITS = 16
_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)


def tokenize_paths(
    paths: Sequence[str], sep: str = ">"
) -> tuple[IntArray, IntArray, list[str]] | None:
    """``(ids, lengths, raw)``: see the module docstring; None if the fast path does not apply."""
    if len(sep) != 1 or ord(sep) >= 128:
        return None
    try:
        joined = sep.join(paths)
    except TypeError:
        return None
    n = len(paths)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), []
    data = joined.encode("utf-8")
    size = len(data)
    # bounds[i] is the separator before item i (-1 for the first); bounds[-1] is the end.
    cuts = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord(sep))
    bounds = np.empty(cuts.shape[0] + 2, dtype=np.int64)
    bounds[0] = -1
    bounds[1:-1] = cuts
    bounds[-1] = size
    lengths = _items_per_path(paths, joined, size, cuts, sep)
    length = np.diff(bounds) - 1
    words = _words(data, bounds[:-1] + 1, bounds[1:], length)
    ids, first = _exact_ids(words, length)
    start = bounds[:-1] + 1
    raw = [data[start[i] : start[i] + length[i]].decode("utf-8") for i in first.tolist()]
    return ids, lengths, raw


def tokenize_spans(
    data: bytes, starts: IntArray, ends: IntArray, sep: str = ">"
) -> tuple[IntArray, IntArray, list[str]]:
    """``(ids, lengths, raw)`` as `tokenize_paths`, for paths that are the byte ranges
    ``data[starts[i]:ends[i]]`` of one UTF-8 buffer (a file's path column, read in place).

    ``sep`` is one ASCII character; the ranges are in order and do not overlap."""
    if len(sep) != 1 or ord(sep) >= 128:
        raise ValueError("sep must be one ASCII character")
    n = starts.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), []
    cuts = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord(sep))
    # the separators inside a path: after its start and before its end
    lo = np.searchsorted(cuts, starts)
    hi = np.searchsorted(cuts, ends)
    lengths = (hi - lo + 1).astype(np.int64)
    m = cuts.shape[0] + 1
    inside = np.bincount(lo, minlength=m) - np.bincount(hi, minlength=m)
    cuts = cuts[np.cumsum(inside[:-1]) > 0]
    # items: from each path's start or a separator, to the next separator or the path's end
    total = int(lengths.sum())
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    is_first = np.zeros(total, dtype=bool)
    is_first[offsets[:-1]] = True
    is_last = np.zeros(total, dtype=bool)
    is_last[offsets[1:] - 1] = True
    first = np.empty(total, dtype=np.int64)
    end = np.empty(total, dtype=np.int64)
    first[is_first] = starts
    first[~is_first] = cuts + 1
    end[is_last] = ends
    end[~is_last] = cuts
    length = end - first
    words = _words(data, first, end, length)
    ids, keep = _exact_ids(words, length)
    raw = [data[first[i] : end[i]].decode("utf-8") for i in keep.tolist()]
    return ids, lengths, raw


def _items_per_path(
    paths: Sequence[str], joined: str, size: int, cuts: IntArray, sep: str
) -> IntArray:
    """Items per path: one more than the separators inside each path."""
    n = len(paths)
    if size != len(joined):  # non-ASCII text: byte offsets differ from character offsets
        return np.fromiter(map(str.count, paths, [sep] * n), np.int64, n) + 1
    ends = np.cumsum(np.fromiter(map(len, paths), np.int64, n))
    ends[1:] += np.arange(1, n, dtype=np.int64)  # the joining separators
    before = np.searchsorted(cuts, ends)  # separators before each path's end, joiners too
    counts = np.empty(n, dtype=np.int64)
    counts[0] = before[0] + 1
    counts[1:] = np.diff(before)
    return counts


def u64_at(data: bytes, at: IntArray) -> U64:
    """The 8 bytes ``data[p:p+8]`` for each ``p`` in ``at`` as little-endian 64-bit words, read
    in place through a strided view (bytes outside ``data`` read as 0)."""
    n = len(data)
    if n < 8:
        data, n = data + bytes(8 - n), 8  # a tiny buffer: padded, the rest as for any other
    view = np.ndarray(shape=(n - 7,), dtype="<u8", buffer=data, strides=(1,))
    out = view[np.clip(at, 0, n - 8)]
    outside = np.flatnonzero((at < 0) | (at > n - 8))
    for i in outside.tolist():  # at most a few, at the buffer's two ends
        p = int(at[i])
        word = bytes(data[q] if 0 <= q < n else 0 for q in range(p, p + 8))
        out[i] = int.from_bytes(word, "little")
    return out


def _words(data: bytes, first: IntArray, end: IntArray, length: IntArray) -> list[U64]:
    """64-bit words that, with the length, are exactly the bytes ``data[first:end]`` of each item.

    Word 0 is the 8 bytes from the item's start, word 1 the 8 bytes up to its end; for items
    longer than 16 bytes, inner words follow (0 where the item is shorter). An item shorter
    than 8 bytes is determined by word 0 alone: its neighbours' bytes are masked off word 0
    and word 1 is 0, so equal items have equal words wherever they sit in ``data``.
    """
    longest = int(length.max())
    short = length < 8
    head = u64_at(data, first) & _MASKS[np.minimum(length, 8)]
    tail = np.where(short, np.uint64(0), u64_at(data, end - 8))
    words = [head, tail]
    for j in range(1, (longest - 1) // 8):
        inner = u64_at(data, first + 8 * j)
        words.append(np.where(length >= 8 * j + 8, inner, np.uint64(0)))
    return words


def _exact_ids(
    words: list[U64], length: IntArray, bits: int = _TABLE_BITS
) -> tuple[IntArray, IntArray]:
    """Dense ids of distinct (words, length) and one item of each id, exactly."""
    n = length.shape[0]
    h = length.astype(np.uint64)
    for j, w in enumerate(words):
        h ^= w * _MULTIPLIERS[j % 4]
    h *= _MULTIPLIERS[3]
    slot = h >> np.uint64(64 - bits)
    keeper = np.full(1 << bits, -1, dtype=np.int64)
    keeper[slot] = np.arange(n, dtype=np.int64)  # any item of the slot will do
    rep = keeper[slot]
    same = length[rep] == length
    for w in words:
        same &= w[rep] == w
    if same.all():
        used = np.flatnonzero(keeper >= 0)
        slot_id = np.zeros(1 << bits, dtype=np.int64)
        slot_id[used] = np.arange(used.shape[0], dtype=np.int64)
        return slot_id[slot], keeper[used]
    # Two distinct items share a slot: exact ids from a sort of the words instead.
    table = np.stack([length.astype(np.uint64), *words], axis=1)
    _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), first.astype(np.int64)
