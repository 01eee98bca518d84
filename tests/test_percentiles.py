"""Latency summaries: exact on short runs, bounded memory with honest estimates on long ones."""

from __future__ import annotations

import numpy as np
import pytest

from rtvoice.metrics.percentiles import Reservoir, percentiles


def test_reservoir_is_exact_up_to_its_capacity():
    values = np.random.default_rng(3).exponential(size=500)
    r = Reservoir(capacity=500)
    r.extend(values)
    assert list(r) == pytest.approx(values.tolist())
    assert percentiles(r) == percentiles(values.tolist())


def test_reservoir_keeps_capacity_values_and_exact_count_mean_max_past_it():
    values = np.random.default_rng(4).exponential(size=200_000)
    r = Reservoir(capacity=2000)
    for v in values:
        r.append(v)
    r.append(None)  # left out, as percentiles() leaves None out
    assert len(r) == 2000
    s, exact = percentiles(r), percentiles(values)
    assert s["n"] == 200_000 and s["mean"] == exact["mean"] and s["max"] == exact["max"]
    assert r.total == pytest.approx(values.sum())
    # a uniform sample: quantiles within a few percent in rank (numpy on all values is the reference)
    for q in ("p50", "p95", "p99"):
        rank = (values < s[q]).mean() * 100
        assert rank == pytest.approx(float(q[1:]), abs=1.5)


def test_reservoir_behaves_as_a_list_for_short_runs():
    r = Reservoir()
    r += [0.5, None, 0.25]
    assert r == [0.5, 0.25] and r[1] == 0.25 and r.count == 2
    assert percentiles(Reservoir())["n"] == 0
    with pytest.raises(ValueError, match="capacity"):
        Reservoir(capacity=0)
