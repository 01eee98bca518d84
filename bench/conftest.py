"""Benchmark conventions.

Every benchmark sits in a pytest-benchmark group with exactly one rtvoice entry and one or more peers,
marked with ``benchmark.extra_info["impl"]`` = "rtvoice" or "peer:<name>". ``python -m bench.report``
turns the JSON into a table of ratios (peer median / rtvoice median), since absolute times on a shared,
noisy machine mean little.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import dev_long, noise_recordings, shared_data, speech_recordings  # noqa: E402,F401


@pytest.fixture
def mark(benchmark):
    """mark("rtvoice") or mark("peer:name", **extra): label this benchmark for the ratio table."""

    def label(impl: str, **extra):
        benchmark.extra_info["impl"] = impl
        benchmark.extra_info.update(extra)

    return label
