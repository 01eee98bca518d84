"""Decode points alone (rtvoice.asr.scheduler.DecodePoints), and the audio history they decode from
(rtvoice.asr.history.AudioHistory): sample arithmetic."""

from __future__ import annotations

import numpy as np

from rtvoice.asr.history import AudioHistory
from rtvoice.asr.scheduler import DecodePoints

SR = 16000


def test_points_lie_on_a_grid_from_the_segment_start():
    points = DecodePoints(interval_s=0.3, min_partial_audio_s=0.3)
    points.start(segment_start=1000)
    assert points.interval == 4800 and points.next == 1000 + 4800
    points = DecodePoints(interval_s=0.3, min_partial_audio_s=0.7)  # the first at or after 0.7 s: 0.9 s
    points.start(segment_start=1000)
    assert points.next == 1000 + 3 * 4800
    points.decoded(points.next)
    assert points.next == 1000 + 4 * 4800
    points.step()
    assert points.next == 1000 + 5 * 4800


def test_catching_up_skips_to_the_latest_point_reached():
    points = DecodePoints(interval_s=0.3, min_partial_audio_s=0.0)
    points.start(segment_start=0)
    assert points.next == 4800  # at least one interval of audio
    assert points.catch_up(reach=4800 * 4 + 100) == 3 and points.next == 4800 * 4
    assert points.catch_up(reach=4800 * 4 + 100) == 0 and points.next == 4800 * 4


def test_audio_history_fills_gaps_with_silence_and_drops_old_samples():
    history = AudioHistory()
    history.append(np.ones(100, np.float32), start=50)
    assert (history.base, history.end) == (50, 150)
    history.append(np.full(50, 2, np.float32), start=200)  # a gap of 50 samples: silence
    assert history.end == 250 and history.slice(140, 210).tolist() == [1] * 10 + [0] * 50 + [2] * 10
    history.append(np.full(60, 3, np.float32), start=240)  # overlaps: only the new samples are kept
    assert history.end == 300 and history.slice(245, 255).tolist() == [2] * 5 + [3] * 5
    history.drop_before(200)
    assert history.base == 200 and history.slice(0, 205).tolist() == [2] * 5
    assert len(history.slice(400, 500)) == 0


def test_the_compute_gate_keeps_the_cpu_for_the_final():
    from rtvoice.asr.scheduler import ComputeAwareGate

    gate = ComputeAwareGate()
    silence, ready = 10 * SR, 10 * SR + 2048  # a trailing silence; its final is due once `ready` is known
    # Only silence since the last decode: nothing new to hear, whatever the compute.
    assert gate.yields(audio_end=silence + 4800, last_decoded=silence, silence_start=silence, ready=ready)
    # Speech came since the last decode: decoded while it ends before the final is due...
    gate.took(0.05)
    assert not gate.yields(audio_end=silence + 100, last_decoded=silence - 4800, silence_start=silence,
                           ready=ready)
    # ...not when this CPU's last partial took long enough to run past it (0.2 s = 3200 samples).
    gate.took(0.2)
    assert gate.yields(audio_end=silence + 100, last_decoded=silence - 4800, silence_start=silence, ready=ready)


def test_the_schedule_is_checked():
    import pytest

    from rtvoice.asr import StreamingConfig

    assert StreamingConfig().schedule == "fixed"
    with pytest.raises(ValueError, match="schedule must be one of fixed, compute"):
        StreamingConfig(schedule="fastest")
