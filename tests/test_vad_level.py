"""The VAD's level stage (rtvoice/vad_level.h): a quiet speaker after a loud one is heard.

Silero's recurrent state, after a loud speaker, hears a much quieter one only in part; on the real
speech_more recordings the quiet FLEURS readers lost most of their words that way. The stage raises the
VAD's copy of the audio (never what the recogniser gets).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from rtvoice.frontend.front_end import FrontEnd, FrontEndConfig
from rtvoice.frontend.vad import CHUNK_SAMPLES, VadLevel, VadLevelConfig, speech_segments
from speech_data import shared_data_dir

RATE = 16000


def _covered(segments, start: int, end: int) -> float:
    """Fraction of samples start..end inside speech segments."""
    return sum(max(0, min(s.end, end) - max(s.start, start)) for s in segments) / (end - start)


def _clip(name: str) -> np.ndarray:
    audio, rate = sf.read(shared_data_dir() / "speech_more" / "wav" / f"{name}.wav", dtype="float32")
    assert rate == RATE
    return audio


def _quiet_then_tone(peak: float, floor_rms: float, chunks: int) -> np.ndarray:
    """Noise at floor_rms (the floor between words) in the first chunk and every fourth after it, a 440 Hz
    tone of `peak` in the others: `chunks` + 1 chunks."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(chunks + 1):
        if i % 4 == 0:
            out.append(rng.normal(0, floor_rms, CHUNK_SAMPLES))
        else:
            out.append(peak * np.sin(2 * np.pi * 440 * np.arange(CHUNK_SAMPLES) / RATE))
    return np.concatenate(out).astype(np.float32)


def test_gain_raises_quiet_input_to_the_target_and_never_lowers_or_clips():
    heard, gains = VadLevel().process(_quiet_then_tone(0.05, 1e-5, 4))
    assert gains[1:] == pytest.approx(0.25 / 0.05, rel=1e-3)  # raised to target_peak
    assert np.abs(heard).max() <= 0.25 + 1e-6
    assert VadLevel().process(_quiet_then_tone(0.001, 1e-6, 2))[1][1:] == pytest.approx(10 ** (24 / 20))  # the cap
    loud = _quiet_then_tone(0.8, 1e-5, 2)
    heard, gains = VadLevel().process(loud)
    assert np.all(gains == 1.0) and np.array_equal(heard, loud)
    assert np.all(VadLevel().process(np.zeros(3 * CHUNK_SAMPLES, np.float32))[1] == 1.0)  # digital silence
    assert np.all(VadLevel().process(np.full(CHUNK_SAMPLES, 5e-5, np.float32))[1] == 1.0)  # under the floor


def test_a_noise_floor_is_not_raised_above_max_noise_rms():
    """Noise between words at 1e-4 RMS (-80 dBFS) may be raised 10x (to -60 dBFS), not the 25x the peak allows;
    a noisy feed (floor -52 dBFS, as noise1 at 20 dB SNR) not at all."""
    gains = VadLevel().process(_quiet_then_tone(0.01, 1e-4, 3))[1]
    assert gains[1:] == pytest.approx(1e-3 / 1e-4, rel=0.05)
    assert np.all(VadLevel().process(_quiet_then_tone(0.05, 2.5e-3, 3))[1] == 1.0)


def test_a_loud_peak_holds_the_gain_down_for_the_window_then_lets_go():
    window_chunks = round(1.5 * RATE / CHUNK_SAMPLES)
    quiet = _quiet_then_tone(0.02, 1e-5, window_chunks + 3)
    audio = np.r_[np.full(CHUNK_SAMPLES, 0.5, np.float32), quiet]
    heard, gains = VadLevel().process(audio)
    assert np.all(gains[:window_chunks] == 1.0)  # the loud chunk is still in the window
    assert gains[window_chunks + 1:] == pytest.approx(0.25 / 0.02, rel=1e-3)  # then the quiet tone is raised
    assert np.abs(heard).max() <= 0.5 + 1e-6


def test_settings_take_numpy_numbers():
    assert VadLevel(VadLevelConfig(max_gain_db=np.float32(18.0))).max_gain == pytest.approx(10 ** (18 / 20), rel=1e-5)


def test_disabled_stage_is_the_identity():
    audio = np.random.default_rng(1).normal(0, 0.01, 5000).astype(np.float32)
    heard, gains = VadLevel(VadLevelConfig(enabled=False)).process(audio)
    assert np.array_equal(heard, audio) and np.all(gains == 1.0)


@pytest.mark.parametrize("bad", [dict(target_peak=0.0), dict(target_peak=1.5), dict(max_gain_db=-1.0),
                                 dict(max_gain_db=90.0), dict(window_s=0.0), dict(floor=0.5),
                                 dict(enabled="yes"), dict(window_s="long"),
                                 dict(max_noise_rms=0.0)])
def test_bad_settings_are_refused_by_name(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        VadLevelConfig(**bad)


@pytest.mark.parametrize("loud, quiet", [("fleurs-en-001", "fleurs-en-002"), ("fleurs-en-008", "fleurs-en-009")])
def test_a_quiet_reader_after_a_loud_one_is_heard(loud, quiet):
    """Real FLEURS readers as published (the quiet ones at about -62 dBFS RMS) with 1 s of silence between
    them, as in speech_more/long.wav: without the stage the VAD covers well under half of the quiet reader's
    speech; with it, as much as when that clip is heard alone."""
    first, second = _clip(loud), _clip(quiet)
    audio = np.r_[first, np.zeros(RATE, np.float32), second]
    start, end = len(first) + RATE, len(audio)
    alone = _covered(speech_segments(second), 0, len(second))
    off = _covered(speech_segments(audio, level=VadLevelConfig(enabled=False)), start, end)
    on = _covered(speech_segments(audio), start, end)
    assert alone > 0.7
    assert off < 0.5 * alone, (off, alone)  # the failure this stage is for
    assert on > 0.9 * alone, (on, alone)


def test_recorded_noise_stays_silence_at_any_level():
    """The gain must not make speech out of noise: the shared noise recordings, at their level and 20 and
    40 dB lower (where the stage raises them most), hold no speech segment."""
    folder = shared_data_dir() / "noise" / "wav"
    for path in sorted(folder.glob("*.wav")):
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if rate != RATE:
            import soxr

            audio = soxr.resample(audio, rate, RATE).astype(np.float32)
        for scale in (1.0, 0.1, 0.01):
            assert speech_segments(audio * scale) == [], (path.name, scale)


def test_front_end_reports_the_gain_it_applied():
    audio = np.r_[_clip("fleurs-en-001"), np.zeros(RATE, np.float32), _clip("fleurs-en-002")]
    fe = FrontEnd(FrontEndConfig())
    fe.start()
    for i in range(0, len(audio), 4096):
        block = audio[i:i + 4096]
        while fe.input.space < len(block):
            fe.poll(timeout=0.01)
        fe.input.write(block)
    fe.stop()
    stats = fe.stats
    assert 20.0 <= stats.vad_gain_max_db <= 24.0 + 1e-3  # the quiet reader (peak -45 dBFS) raised to the cap
    assert 0 < stats.vad_raised_chunks < stats.chunks
    off = FrontEnd(FrontEndConfig(vad_level=VadLevelConfig(enabled=False)))
    off.start()
    off.input.write(audio[:4096])
    off.stop()
    assert off.stats.vad_gain_max_db == 0.0 and off.stats.vad_raised_chunks == 0
