"""Timings of a finished pytest-benchmark run, also under --benchmark-disable (CI's smoke run), where
nothing is timed and the figures derived from them are NaN."""

from __future__ import annotations

import math


def timings_s(benchmark) -> list[float]:
    stats = getattr(benchmark, "stats", None)
    return list(stats.stats.data) if stats is not None else [math.nan]


def median_s(benchmark) -> float:
    stats = getattr(benchmark, "stats", None)
    return stats.stats.median if stats is not None else math.nan
