"""The native DC blocker against scipy's lfilter running the same difference equation, and what it does
in the front end: speech riding on a DC offset of 0.3 is segmented like the clean recording."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import freqz, lfilter

from rtvoice.frontend.dc_blocker import DEFAULT_CUTOFF_HZ, DcBlocker, dc_block
from rtvoice.frontend.front_end import FrontEnd, FrontEndConfig
from rtvoice.frontend.vad import segments_from_events

from speech_data import load_speech

SR = 16000


def reference(x: np.ndarray, cutoff_hz: float = DEFAULT_CUTOFF_HZ, rate: int = SR) -> np.ndarray:
    r = 1.0 - 2.0 * np.pi * cutoff_hz / rate
    return lfilter([1.0, -1.0], [1.0, -r], x.astype(np.float64))


def test_matches_lfilter_on_speech_with_an_offset():
    x = load_speech("spk1_snt3") + np.float32(0.3)
    y = dc_block(x)
    assert y.dtype == np.float32 and len(y) == len(x)
    assert np.max(np.abs(y - reference(x))) < 1e-6
    assert DcBlocker().coefficient == pytest.approx(1 - 2 * np.pi * 10 / 16000)


def test_output_does_not_depend_on_the_chunking():
    x = load_speech("spk1_snt4") + np.float32(-0.2)
    whole = dc_block(x)
    rng = np.random.default_rng(7)
    d = DcBlocker()
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(0, 700))
        parts.append(d.process(x[i:i + n]))
        i += n
    assert np.array_equal(np.concatenate(parts), whole)
    d.reset()
    assert np.array_equal(d.process(x), whole)  # reset: a fresh stream


def test_removes_dc_and_keeps_speech_frequencies():
    y = dc_block(np.full(SR, 0.3, np.float32))
    assert np.max(np.abs(y[int(0.1 * SR):])) < 1e-3  # a 0.3 step is gone within 100 ms (16 ms time constant)
    r = DcBlocker().coefficient
    _, h = freqz([1.0, -1.0], [1.0, -r], worN=[0.0, DEFAULT_CUTOFF_HZ, 100.0, 1000.0], fs=SR)
    gain_db = 20 * np.log10(np.maximum(np.abs(h), 1e-12))
    assert gain_db[0] < -200 and gain_db[1] == pytest.approx(-3.0, abs=0.1)
    assert abs(gain_db[2]) < 0.05 and abs(gain_db[3]) < 0.05  # high-frequency gain 2 / (1 + R): +0.017 dB
    # the native filter has that response: a 100 Hz tone keeps its level
    t = np.arange(2 * SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    out = dc_block(tone)[SR:]
    assert np.sqrt(np.mean(out ** 2)) / np.sqrt(np.mean(tone[SR:] ** 2)) == pytest.approx(1.0, abs=0.006)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="cutoff_hz"):
        DcBlocker(16000, 0.0)
    with pytest.raises(ValueError, match="cutoff_hz"):
        DcBlocker(16000, 161.0)
    with pytest.raises(ValueError, match="sample_rate"):
        DcBlocker(10, 10.0)
    with pytest.raises(ValueError, match="NaN"):
        dc_block(np.array([0.0, np.nan], np.float32))


def run_front_end(audio: np.ndarray, config: FrontEndConfig):
    fe = FrontEnd(config)
    fe.start()
    events = []
    for i in range(0, len(audio), 160):
        piece = audio[i:i + 160]
        while fe.input.space < len(piece):
            events += fe.poll(timeout=0.001)
        fe.input.write(piece)
    fe.stop()
    return segments_from_events(events + fe.poll()), fe.stats


def test_speech_on_a_dc_offset_is_segmented_like_the_clean_recording():
    speech = load_speech("dev_long")[: int(11.6 * SR)]  # two utterances and the pause between them
    clean, _ = run_front_end(speech, FrontEndConfig())
    offset, stats = run_front_end(speech + np.float32(0.3), FrontEndConfig())
    assert len(clean) == len(offset) == 2
    for a, b in zip(clean, offset):
        assert abs(a.start - b.start) <= 0.1 * SR and abs(a.end - b.end) <= 0.1 * SR
    assert stats.dc_offset_max == pytest.approx(0.3, abs=0.02)  # the removed offset is reported
    assert run_front_end(speech, FrontEndConfig())[1].dc_offset_max < 0.02
    # spk1_snt3 on 0.3 of DC: without the blocker the VAD hears no speech at all (the failure this
    # repairs; measured 2026-11-25: [] instead of one segment 0.00-2.72 s); with it, the clean segment.
    short = load_speech("spk1_snt3")
    assert run_front_end(short + np.float32(0.3), FrontEndConfig(dc_block=False))[0] == []
    clean, _ = run_front_end(short, FrontEndConfig())
    offset, _ = run_front_end(short + np.float32(0.3), FrontEndConfig())
    assert len(clean) == 1 and offset == clean
