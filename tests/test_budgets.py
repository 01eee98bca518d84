"""Budget parsing and checking, and regression comparison, used by `rtvoice bench` as a CI gate."""

import math

import pytest

from rtvoice.metrics.budgets import (
    BudgetError,
    check_budgets,
    compare_reports,
    load_budget_file,
    parse_budgets,
    parse_regression,
    regressions,
)

REPORT = {"caption_final_p95_s": 0.84, "tts_first_audio_p50_s": 0.12, "wer": 0.061, "underruns": 0}


def test_units_are_converted_and_compared_with_the_matching_figure():
    results = check_budgets(REPORT, parse_budgets("caption_final_p95=1.0s,tts_first_audio_p50=100ms,wer=8%,underruns=0"))
    assert [r.met for r in results] == [True, False, True, True]
    assert "EXCEEDED" in results[1].describe() and "120ms" in results[1].describe()


def test_a_budget_that_cannot_be_met_fails():
    (result,) = check_budgets(REPORT, parse_budgets("caption_final_p95=1ms"))
    assert not result.met


@pytest.mark.parametrize("bad", ["caption_final_p95", "x=fast", "=1s", "p95=1h", "a=1s;b=2s"])
def test_bad_budget_specs_are_clear_errors(bad):
    with pytest.raises(BudgetError, match="budget"):
        parse_budgets(bad)


def test_unknown_figure_lists_what_exists():
    with pytest.raises(BudgetError, match="caption_final_p95_s"):
        check_budgets(REPORT, parse_budgets("caption_first_p95=1s"))


def test_nan_figure_never_meets_a_budget():
    (result,) = check_budgets({"x_s": math.nan}, parse_budgets("x=10s"))
    assert not result.met


def test_a_figure_not_measured_fails_its_budget_instead_of_crashing():
    """callback_p99_s is None when the bench ran without --audio-device."""
    (result,) = check_budgets({"callback_p99_s": None}, parse_budgets("callback_p99=0.5ms"))
    assert not result.met and "EXCEEDED" in result.describe()


def test_budget_file(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_text('[budgets]\ncaption_final_p95 = "0.5s"\nwer = "10%"\n')
    results = check_budgets(REPORT, load_budget_file(path))
    assert [r.met for r in results] == [False, True]
    path.write_text("budgets = [")
    with pytest.raises(BudgetError, match="TOML"):
        load_budget_file(path)
    with pytest.raises(BudgetError, match="not found"):
        load_budget_file(tmp_path / "missing.toml")


def test_regressions_respect_direction_and_threshold():
    old = {"caption_final_p95_s": 0.80, "asr_realtime_factor": 10.0, "wer": 0.06, "label": "x"}
    new = {"caption_final_p95_s": 0.90, "asr_realtime_factor": 8.5, "wer": 0.061, "label": "y"}
    changes = compare_reports(old, new)
    assert {c.figure for c in changes} == {"caption_final_p95_s", "asr_realtime_factor", "wer"}
    bad = {c.figure for c in regressions(changes, parse_regression("10%"))}
    assert bad == {"caption_final_p95_s", "asr_realtime_factor"}
    assert regressions(changes, parse_regression("20%")) == []
    with pytest.raises(BudgetError):
        parse_regression("ten percent")
