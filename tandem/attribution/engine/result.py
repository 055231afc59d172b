"""Typed attribution results.

Invariant: for every model except Markov, ``conversions.sum()`` equals the total
conversions of the journeys and ``value.sum()`` their total value (up to rounding);
Markov credit is normalised to the same totals. A channel that never appears in a
journey with weight gets exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class AttributionResult:
    """Per-channel credit of one model run (arrays are aligned with ``channels``)."""

    model: str
    channels: tuple[str, ...]
    conversions: FloatArray
    value: FloatArray
    removal_effects: FloatArray | None = None
    removal_effects_value: FloatArray | None = None
    extra: dict[str, FloatArray] = field(default_factory=dict)

    def conversions_by_channel(self) -> dict[str, float]:
        return {c: float(x) for c, x in zip(self.channels, self.conversions, strict=True)}

    def value_by_channel(self) -> dict[str, float]:
        return {c: float(x) for c, x in zip(self.channels, self.value, strict=True)}

    def removal_effects_by_channel(self) -> dict[str, float]:
        if self.removal_effects is None:
            return {}
        return {c: float(x) for c, x in zip(self.channels, self.removal_effects, strict=True)}

    def shares(self, target: str = "conversions") -> FloatArray:
        """Credit shares (sum to 1; all zeros when there is nothing to share)."""
        credit = self.conversions if target == "conversions" else self.value
        total = credit.sum()
        return credit / total if total != 0 else np.zeros_like(credit)

    def to_dict(self) -> dict[str, object]:
        channels: dict[str, dict[str, float]] = {}
        for i, name in enumerate(self.channels):
            row = {"conversions": float(self.conversions[i]), "value": float(self.value[i])}
            if self.removal_effects is not None:
                row["removal_effect"] = float(self.removal_effects[i])
            channels[name] = row
        return {"model": self.model, "channels": channels}
