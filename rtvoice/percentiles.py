"""Summaries of latency samples: the figures every rtvoice report uses (one module so ASR, TTS and the
bench agree on them; it imports nothing of rtvoice, so any room may use it)."""

from __future__ import annotations

import numpy as np


def percentiles(values) -> dict:
    """{n, p50, p95, p99, mean, max} of the values, in their unit (None values are left out)."""
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if a.size == 0:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 4),
            "p95": round(float(np.percentile(a, 95)), 4), "p99": round(float(np.percentile(a, 99)), 4),
            "mean": round(float(a.mean()), 4), "max": round(float(a.max()), 4)}
