"""Journeys: customer paths as flat numpy arrays (CSR layout).

A `Journeys` value holds ``n`` journeys over ``len(channels)`` channels:

* ``codes[offsets[i]:offsets[i + 1]]`` are journey ``i``'s touches, in time order, as
  indices into ``channels`` (channel names are kept sorted, so codes never depend on the
  order input rows arrived in);
* ``conversions[i]``, ``value[i]`` and ``nulls[i]`` are its conversions (0/1 or a count),
  conversion value and non-converting journeys (for aggregated paths a row stands for
  ``conversions + nulls`` journeys with the same path);
* ``timestamps`` (seconds, one per touch) and the optional per-journey milestone indices
  ``lead_index`` / ``opportunity_index`` (``-1`` = not known) are only kept when known.

Invariants (checked in ``__post_init__``): every journey has at least one touch, offsets
start at 0 and are non-decreasing, weights are finite and non-negative.

Building from touchpoint rows sorts by (journey, timestamp, channel name), so the order of
input rows changes nothing. `collapse_repeats` merges consecutive touches of one channel
into one touch carrying the *latest* timestamp of the run; all models run on collapsed
journeys by default.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import repeat

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .tokenize import tokenize_paths, tokenize_spans

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def weighted_count(idx: IntArray, weights: FloatArray | None, n: int) -> FloatArray:
    """``np.bincount`` with float64 result (weights optional)."""
    return np.asarray(np.bincount(idx, weights, minlength=n), dtype=np.float64)


def _sorted_rows(jid: NDArray[np.generic], ts: FloatArray, ch: IntArray) -> bool:
    """Whether integer journey ids are non-decreasing with (time, channel) ascending inside.

    Journeys numbered in row order then equal journeys numbered by sorted id, so the fast
    path gives exactly what sorting gives.
    """
    if not np.issubdtype(jid.dtype, np.integer) or jid.shape[0] < 2:
        return False
    d_j = np.diff(jid)
    if np.any(d_j < 0):
        return False
    same = d_j == 0
    d_t = np.diff(ts)
    if np.any(same & (d_t < 0)):
        return False
    return not np.any(same & (d_t == 0) & (np.diff(ch) < 0))


class JourneyError(ValueError):
    """Input that cannot be turned into journeys (empty path, bad weights, ...).

    ``row`` is the 0-based input row at fault, when one is."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def _float_array(values: ArrayLike | None, n: int, name: str) -> FloatArray:
    if values is None:
        return np.zeros(n, dtype=np.float64)
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape[0] != n:
        raise JourneyError(f"{name} has {arr.shape[0]} entries, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise JourneyError(f"{name} contains a non-finite number")
    return arr


@dataclass(frozen=True, eq=False)
class Journeys:
    """Customer journeys in CSR layout; see the module docstring for the invariants."""

    channels: tuple[str, ...]
    codes: IntArray
    offsets: IntArray
    conversions: FloatArray
    value: FloatArray
    nulls: FloatArray
    timestamps: FloatArray | None = None
    lead_index: IntArray | None = None
    opportunity_index: IntArray | None = None

    def __post_init__(self) -> None:
        n = self.offsets.shape[0] - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != self.codes.shape[0]:
            raise JourneyError("offsets must start at 0 and end at the number of touches")
        if n and np.any(np.diff(self.offsets) <= 0):
            raise JourneyError("every journey needs at least one touch")
        for name in ("conversions", "value", "nulls"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise JourneyError(f"{name} must have one entry per journey")
        if np.any(self.conversions < 0) or np.any(self.nulls < 0):
            raise JourneyError("conversions and nulls must be non-negative")
        if self.codes.size and (self.codes.min() < 0 or self.codes.max() >= len(self.channels)):
            raise JourneyError("channel code out of range")
        if self.timestamps is not None and self.timestamps.shape != self.codes.shape:
            raise JourneyError("timestamps must have one entry per touch")

    # ------------------------------------------------------------------ basic views
    @property
    def n_journeys(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def lengths(self) -> IntArray:
        return np.diff(self.offsets)

    def touch_journey(self) -> IntArray:
        """Journey index of every touch."""
        return np.repeat(np.arange(self.n_journeys, dtype=np.int64), self.lengths)

    def touch_position(self) -> IntArray:
        """0-based position of every touch inside its journey."""
        return np.arange(self.codes.shape[0], dtype=np.int64) - np.repeat(
            self.offsets[:-1], self.lengths
        )

    def path(self, i: int) -> list[str]:
        return [self.channels[c] for c in self.codes[self.offsets[i] : self.offsets[i + 1]]]

    def path_strings(self, sep: str = " > ") -> list[str]:
        return [sep.join(self.path(i)) for i in range(self.n_journeys)]

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_sequences(
        cls,
        paths: Sequence[Sequence[str]],
        conversions: ArrayLike,
        value: ArrayLike | None = None,
        nulls: ArrayLike | None = None,
        channels: Iterable[str] | None = None,
    ) -> Journeys:
        """Journeys from lists of channel names (one list per journey)."""
        tokens = [t for p in paths for t in p]
        lengths = np.fromiter(map(len, paths), dtype=np.int64, count=len(paths))
        return cls._from_tokens(tokens, lengths, conversions, value, nulls, channels)

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[str],
        conversions: ArrayLike,
        value: ArrayLike | None = None,
        nulls: ArrayLike | None = None,
        sep: str = ">",
        channels: Iterable[str] | None = None,
    ) -> Journeys:
        """Journeys from channelattribution-style path strings ``"a > b > c"``.

        Spaces around the separator are ignored. An empty path or an empty item
        (``"a >> b"``) raises `JourneyError` naming the 0-based row.
        """
        paths = list(paths)
        fast = tokenize_paths(paths, sep)
        if fast is not None:
            ids, lengths, raw = fast
            return cls._from_ids(ids, lengths, raw, conversions, value, nulls, channels)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived strings; collection passes cost ~40%
        try:
            tokens = sep.join(paths).split(sep)
            raw_set = set(tokens)
            names = {t: t.strip() for t in raw_set}
            lengths = np.fromiter(map(str.count, paths, repeat(sep)), np.int64, len(paths)) + 1
            return cls._from_tokens(tokens, lengths, conversions, value, nulls, channels, names)
        finally:
            if gc_was_enabled:
                gc.enable()

    @classmethod
    def from_path_spans(
        cls,
        data: bytes,
        starts: IntArray,
        ends: IntArray,
        conversions: ArrayLike,
        value: ArrayLike | None = None,
        nulls: ArrayLike | None = None,
        sep: str = ">",
    ) -> Journeys:
        """Journeys from path strings that are byte ranges ``data[starts[i]:ends[i]]`` of
        one UTF-8 buffer (a CSV file's path column, read without a string per row); as
        `from_paths` otherwise."""
        ids, lengths, raw = tokenize_spans(data, starts, ends, sep)
        return cls._from_ids(ids, lengths, raw, conversions, value, nulls, None)

    @classmethod
    def _from_ids(
        cls,
        ids: IntArray,
        lengths: IntArray,
        raw: list[str],
        conversions: ArrayLike,
        value: ArrayLike | None,
        nulls: ArrayLike | None,
        channels: Iterable[str] | None,
    ) -> Journeys:
        """Journeys from item ids into ``raw`` (distinct raw items, stripped here)."""
        n = lengths.shape[0]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        clean = [t.strip() for t in raw]
        if "" in clean:
            empty = np.flatnonzero(np.array([c == "" for c in clean]))
            first_empty = int(np.flatnonzero(np.isin(ids, empty))[0])
            at = int(np.searchsorted(offsets, first_empty, side="right") - 1)
            raise JourneyError(f"row {at}: empty channel name in path", row=at)
        names = sorted(set(clean) | set(channels or ()))
        index = {name: i for i, name in enumerate(names)}
        lookup = np.array([index[c] for c in clean], dtype=np.int64)
        return cls(
            channels=tuple(names),
            codes=lookup[ids] if ids.size else np.zeros(0, dtype=np.int64),
            offsets=offsets,
            conversions=_float_array(conversions, n, "conversions"),
            value=_float_array(value, n, "value"),
            nulls=_float_array(nulls, n, "nulls"),
        )

    @classmethod
    def _from_tokens(
        cls,
        tokens: list[str],
        lengths: IntArray,
        conversions: ArrayLike,
        value: ArrayLike | None,
        nulls: ArrayLike | None,
        channels: Iterable[str] | None,
        clean: dict[str, str] | None = None,
    ) -> Journeys:
        """``clean`` maps each distinct raw token to its channel name (default: itself)."""
        n = lengths.shape[0]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if n and lengths.min() <= 0:
            raise JourneyError(f"row {int(np.argmin(lengths))}: empty path")
        if clean is None:
            clean = {t: t for t in set(tokens)}
        if "" in clean.values():
            empty = [t for t, c in clean.items() if c == ""]
            first_empty = min(tokens.index(t) for t in empty)
            at = int(np.searchsorted(offsets, first_empty, side="right") - 1)
            raise JourneyError(f"row {at}: empty channel name in path")
        names = sorted(set(clean.values()) | set(channels or ()))
        index = {name: i for i, name in enumerate(names)}
        lookup = {t: index[c] for t, c in clean.items()}
        codes = np.fromiter(map(lookup.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        return cls(
            channels=tuple(names),
            codes=codes,
            offsets=offsets,
            conversions=_float_array(conversions, n, "conversions"),
            value=_float_array(value, n, "value"),
            nulls=_float_array(nulls, n, "nulls"),
        )

    @classmethod
    def from_touchpoints(
        cls,
        journey_id: ArrayLike,
        ts: ArrayLike,
        channel: ArrayLike,
        converted: ArrayLike,
        value: ArrayLike | None = None,
        channel_names: Sequence[str] | None = None,
    ) -> Journeys:
        """Journeys from touchpoint rows in any order.

        ``channel`` is an array of names, or of integer codes into ``channel_names``.
        ``converted``/``value`` are journey attributes that may be repeated on every row
        or put on one row: a journey's conversions and value are the maxima over its
        rows, and a journey without conversions counts as one null.
        """
        jid = np.asarray(journey_id)
        n_rows = jid.shape[0]
        ts_arr = np.asarray(ts)
        if np.issubdtype(ts_arr.dtype, np.datetime64):
            ts_arr = ts_arr.astype("datetime64[ns]").astype(np.int64) / 1e9
        ts_f = _float_array(ts_arr, n_rows, "ts")
        conv = _float_array(converted, n_rows, "converted")
        val = _float_array(value, n_rows, "value")
        ch = np.asarray(channel)
        if channel_names is None:
            names_arr, ch_codes = np.unique(ch.astype(str), return_inverse=True)
            names = tuple(str(s) for s in names_arr)
        else:
            order = np.argsort(np.asarray(channel_names, dtype=str), kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(order.shape[0])
            names = tuple(str(channel_names[i]) for i in order)
            ch_codes = rank[ch.astype(np.int64)]
        if ch_codes.shape[0] != n_rows:
            raise JourneyError("channel must have one entry per row")
        if _sorted_rows(jid, ts_f, ch_codes):
            # Rows already in (journey, time, channel) order (e.g. from an ordered query):
            # no sort and no reordered copies; journeys are numbered in row order.
            n = int(np.count_nonzero(jid[1:] != jid[:-1])) + 1 if n_rows else 0
            jcode = np.zeros(n_rows, dtype=np.int64)
            if n_rows:
                np.cumsum(jid[1:] != jid[:-1], out=jcode[1:])
            row_order: IntArray | slice = slice(None)
        else:
            if np.issubdtype(jid.dtype, np.integer):
                uniq, jcode = np.unique(jid, return_inverse=True)
            else:
                uniq, jcode = np.unique(jid.astype(str), return_inverse=True)
            n = uniq.shape[0]
            row_order = np.lexsort((ch_codes, ts_f, jcode))
            jcode, ts_f, ch_codes = jcode[row_order], ts_f[row_order], ch_codes[row_order]
        lengths = np.bincount(jcode, minlength=n).astype(np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if n:
            j_conv = np.maximum.reduceat(conv[row_order], offsets[:-1])
            j_val = np.where(j_conv > 0, np.maximum.reduceat(val[row_order], offsets[:-1]), 0.0)
        else:
            j_conv = j_val = np.zeros(0)
        return cls(
            channels=names,
            codes=ch_codes.astype(np.int64),
            offsets=offsets,
            conversions=j_conv.astype(np.float64),
            value=j_val.astype(np.float64),
            nulls=(j_conv <= 0).astype(np.float64),
            timestamps=ts_f,
        )

    # ------------------------------------------------------------------ transforms
    def collapse_repeats(self) -> Journeys:
        """Merge consecutive touches of one channel; the run keeps its latest timestamp."""
        m = self.codes.shape[0]
        keep = np.ones(m, dtype=bool)
        if m > 1:
            keep[:-1] = self.codes[:-1] != self.codes[1:]
        keep[self.offsets[1:] - 1] = True  # last touch of every journey
        if keep.all():
            return self
        before = np.cumsum(keep) - keep  # kept touches strictly before each touch
        new_offsets = np.zeros_like(self.offsets)
        new_offsets[1:] = before[self.offsets[1:] - 1] + 1

        def remap(idx: IntArray | None) -> IntArray | None:
            if idx is None:
                return None
            known = idx >= 0
            raw = self.offsets[:-1] + np.where(known, idx, 0)
            return np.where(known, before[raw] - new_offsets[:-1], -1)

        return replace(
            self,
            codes=self.codes[keep],
            offsets=new_offsets,
            timestamps=None if self.timestamps is None else self.timestamps[keep],
            lead_index=remap(self.lead_index),
            opportunity_index=remap(self.opportunity_index),
        )

    def map_channels(self, mapping: Mapping[str, str], default: str | None = None) -> Journeys:
        """Relabel channels (e.g. channel -> department); repeats are *not* collapsed here."""
        targets = []
        for name in self.channels:
            if name in mapping:
                targets.append(mapping[name])
            elif default is not None:
                targets.append(default)
            else:
                raise JourneyError(f"channel {name!r} has no mapping")
        new_names = sorted(set(targets))
        lookup = np.array([new_names.index(t) for t in targets], dtype=np.int64)
        return replace(self, channels=tuple(new_names), codes=lookup[self.codes])

    def with_weights(
        self, conversions: FloatArray, value: FloatArray, nulls: FloatArray
    ) -> Journeys:
        return replace(self, conversions=conversions, value=value, nulls=nulls)

    def path_keys(self) -> NDArray[np.int64]:
        """Integer keys, one row per journey, equal iff the paths are equal.

        Horner encoding with base ``n_channels + 1`` and 1-based digits, so paths of
        different lengths never collide; long paths use several 63-bit chunks.
        """
        base = self.n_channels + 1
        per_chunk = max(1, int(62 // np.log2(base)))
        lengths = self.lengths
        n_chunks = max(1, int(-(-int(lengths.max(initial=1)) // per_chunk)))
        keys = np.zeros((self.n_journeys, n_chunks), dtype=np.int64)
        by_len = np.argsort(-lengths, kind="stable")
        starts = self.offsets[:-1][by_len]
        sorted_len = lengths[by_len]
        digits = self.codes + 1
        active = self.n_journeys
        for pos in range(int(lengths.max(initial=0))):
            while active and sorted_len[active - 1] <= pos:
                active -= 1
            col = pos // per_chunk
            sel = by_len[:active]
            keys[sel, col] = keys[sel, col] * base + digits[starts[:active] + pos]
        return keys

    def aggregate(self) -> tuple[Journeys, IntArray]:
        """Unique paths with summed conversions, value and nulls, and each row's path id.

        Timestamps and milestone indices are dropped (they differ between journeys).
        """
        keys = self.path_keys()
        if keys.shape[1] == 1:
            _, first, inverse = np.unique(keys[:, 0], return_index=True, return_inverse=True)
        else:
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        k = first.shape[0]
        lengths = self.lengths[first]
        offsets = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        take = np.repeat(self.offsets[:-1][first] - offsets[:-1], lengths) + np.arange(
            offsets[-1], dtype=np.int64
        )
        agg = Journeys(
            channels=self.channels,
            codes=self.codes[take],
            offsets=offsets,
            conversions=weighted_count(inverse, self.conversions, k),
            value=weighted_count(inverse, self.value, k),
            nulls=weighted_count(inverse, self.nulls, k),
        )
        return agg, inverse.astype(np.int64)

    def select(self, rows: IntArray) -> Journeys:
        """Journeys ``rows`` (in that order); milestone indices and timestamps follow."""
        lengths = self.lengths[rows]
        offsets = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        take = np.repeat(self.offsets[:-1][rows] - offsets[:-1], lengths) + np.arange(
            offsets[-1], dtype=np.int64
        )
        return Journeys(
            channels=self.channels,
            codes=self.codes[take],
            offsets=offsets,
            conversions=self.conversions[rows],
            value=self.value[rows],
            nulls=self.nulls[rows],
            timestamps=None if self.timestamps is None else self.timestamps[take],
            lead_index=None if self.lead_index is None else self.lead_index[rows],
            opportunity_index=(
                None if self.opportunity_index is None else self.opportunity_index[rows]
            ),
        )
