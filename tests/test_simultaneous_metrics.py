"""SimulEval's speech-output latency metrics and the lag trend (rtvoice.metrics.simultaneous), each on an
example computed by hand from the definitions in the module docstring (SimulEval's ATDScorer,
StartOffset/EndOffset on speech output: every line heard after the one before it)."""

from __future__ import annotations

import pytest

from rtvoice.metrics.simultaneous import (VoiceOutput, average_token_delay, end_offset, lag_slope_s_per_min,
                                          play_intervals, simultaneous_figures, start_offset)


def test_start_and_end_offset_follow_the_lines_as_heard():
    # line 2 comes out at 2.5 s while line 1 (1.0 + 2.0 s) still plays: heard 3.0 .. 4.5
    outputs = [VoiceOutput(1.0, 2.0), VoiceOutput(2.5, 1.5), VoiceOutput(6.0, 0.5)]
    assert play_intervals(outputs) == [(1.0, 3.0), (3.0, 4.5), (6.0, 6.5)]
    assert start_offset(outputs) == 1.0
    assert end_offset(outputs, source_end_s=5.0) == pytest.approx(1.5)
    assert start_offset([]) is None and end_offset([], 5.0) is None


def test_atd_of_two_lines_each_heard_when_it_came_out():
    """Line 1 out at 1.0 s, 0.6 s long; line 2 at 2.0 s, 0.3 s long.
    Source tokens (end, ms): chunk 1 300, 600, 900, 1000; chunk 2 1300, 1600, 1900, 2000.
    Output tokens: chunk 1 end 1300, 1600; chunk 2 end 2300.
    Output 1 -> source 1: 1300 - 300 = 1000; output 2 -> source 2: 1600 - 600 = 1000;
    output 3 (chunk 2: X = 4, Y = 2, no excess) -> source 3: 2300 - 900 = 1400.  ATD = 3400 / 3 ms."""
    assert average_token_delay([VoiceOutput(1.0, 0.6), VoiceOutput(2.0, 0.3)]) == pytest.approx(3.4 / 3)


def test_atd_when_a_line_waits_for_the_one_before_it():
    """Line 2 comes out at 1.2 s while line 1 plays until 1.6 s: its token plays 1.6 .. 1.9.
    Source chunk 2 is (1000, 1200]: one 200 ms token ending 1200. Output 3 -> source 3 (900): 1900 - 900 = 1000.
    ATD = (1000 + 1000 + 1000) / 3."""
    assert average_token_delay([VoiceOutput(1.0, 0.6), VoiceOutput(1.2, 0.3)]) == pytest.approx(1.0)


def test_atd_matches_excess_output_tokens_to_the_source_read():
    """A long first line (1.5 s, 5 tokens) out after 0.3 s of source (1 token): its tokens are matched to that
    token (ends 600..1800 - 300 = 300, 600, 900, 1200, 1500 ms). Line 2 (0.3 s) out at 0.6 s: X = 1, Y = 5, so
    output 6 -> source 6 - (5 - 1) = 2 (ends 600); it plays 1.8 .. 2.1: 2100 - 600 = 1500.
    ATD = (300 + 600 + 900 + 1200 + 1500 + 1500) / 6 = 1000 ms."""
    assert average_token_delay([VoiceOutput(0.3, 1.5), VoiceOutput(0.6, 0.3)]) == pytest.approx(1.0)


def test_atd_groups_outputs_of_the_same_moment_and_rejects_disorder():
    # two outputs at the same moment are one chunk: as one 0.6 s output
    assert average_token_delay([VoiceOutput(1.0, 0.3), VoiceOutput(1.0, 0.3)]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        average_token_delay([VoiceOutput(2.0, 0.3), VoiceOutput(1.0, 0.3)])
    assert average_token_delay([]) is None


def test_lag_slope_is_the_least_squares_slope_per_minute():
    # lags 1, 2, 2, 3 at 0, 30, 60, 90 s: slope = sum((t - 45)(l - 2)) / sum((t - 45)^2) = 90 / 4500 s/s
    assert lag_slope_s_per_min([0, 30, 60, 90], [1, 2, 2, 3]) == pytest.approx(60 * 90 / 4500)
    assert lag_slope_s_per_min([0, 60], [2, 2]) == 0
    assert lag_slope_s_per_min([5], [1]) is None and lag_slope_s_per_min([5, 5], [1, 2]) is None


def test_the_figures_together():
    figures = simultaneous_figures([VoiceOutput(1.0, 0.6), VoiceOutput(2.0, 0.3)], 2.0, [1.0, 2.0], [0.5, 0.5])
    assert figures == {"start_offset_s": 1.0, "end_offset_s": 0.3, "atd_s": round(3.4 / 3, 4),
                       "lag_slope_s_per_min": 0.0, "outputs": 2}
