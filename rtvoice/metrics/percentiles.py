"""Summaries of latency samples: the figures every rtvoice report uses (one module so ASR, TTS and the
bench agree on them; it imports nothing of rtvoice, so any room may use it)."""

from __future__ import annotations

import numpy as np


def percentiles(values) -> dict:
    """{n, p50, p95, p99, mean, max} of the values, in their unit (None values are left out). A
    :class:`Reservoir` gives its exact count, mean and max."""
    if isinstance(values, Reservoir):
        return values.summary()
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if a.size == 0:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 4),
            "p95": round(float(np.percentile(a, 95)), 4), "p99": round(float(np.percentile(a, 99)), 4),
            "mean": round(float(a.mean()), 4), "max": round(float(a.max()), 4)}


class Reservoir(list):
    """Latency samples with bounded memory, for runs of any length.

    A list of the values while there are at most ``capacity`` of them; past that it keeps a uniform random
    sample of ``capacity`` values (reservoir sampling, seeded: the same run gives the same figures), so a
    long run's percentiles are estimates (rank error about 1/sqrt(capacity)) while ``count``, ``total``,
    ``mean`` and ``max`` stay exact. ``percentiles(reservoir)`` uses the exact ones.
    """

    def __init__(self, values=(), capacity: int = 4096):
        super().__init__()
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.count = 0  # values seen
        self.total = 0.0  # their sum
        self.largest: float | None = None
        self._rng = np.random.default_rng(0)
        for value in values:
            self.append(value)

    def append(self, value) -> None:
        if value is None:
            return
        value = float(value)
        self.count += 1
        self.total += value
        self.largest = value if self.largest is None else max(self.largest, value)
        if len(self) < self.capacity:
            super().append(value)
        else:
            slot = int(self._rng.integers(self.count))
            if slot < self.capacity:
                self[slot] = value

    def extend(self, values) -> None:
        for value in values:
            self.append(value)

    def __iadd__(self, values):
        self.extend(values)
        return self

    def summary(self) -> dict:
        out = percentiles(list.__iter__(self))
        if self.count:
            out.update(n=self.count, mean=round(self.total / self.count, 4), max=round(self.largest, 4))
        return out
