"""Pitch (YIN F0) and formant spacing against independent references: librosa's YIN on real recordings,
harmonic tones and a source-filter vowel synthesised with scipy."""

from __future__ import annotations

import numpy as np
import pytest

from rtvoice.frontend.formants import FormantConfig, formant_spacing
from rtvoice.frontend.pitch import PitchConfig, estimate_pitch

RATE = 16000


def harmonic_tone(f0: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(a * np.sin(2 * np.pi * k * f0 * t) for k, a in ((1, 0.3), (2, 0.15), (3, 0.08))).astype(np.float32)


@pytest.mark.parametrize("f0", [70.0, 123.4, 210.0, 333.0])
def test_harmonic_tone_f0_is_found_in_every_frame(f0):
    """Every frame of a steady tone is voiced and within 0.5% of its F0 (measured: under 0.01%)."""
    track = estimate_pitch(harmonic_tone(f0))
    assert track.voiced.all() and len(track.voiced) == 97  # (16000 - 640) // 160 + 1 frames
    assert np.all(np.abs(track.f0_hz / f0 - 1) < 0.005)


def test_tone_agrees_with_librosa_yin():
    librosa = pytest.importorskip("librosa")
    tone = harmonic_tone(157.0)
    reference = np.median(librosa.yin(tone, fmin=60, fmax=400, sr=RATE, frame_length=1024, hop_length=160))
    assert estimate_pitch(tone).median_hz == pytest.approx(reference, rel=0.005)


# (clip, sex) of speech_more recordings; median F0 of our voiced frames: LJ001-0025 239 Hz, jfk 246 Hz,
# 1089-134686-0000 95 Hz, 1995-1837-0001 202 Hz
REAL = ["LJ001-0025", "jfk", "1089-134686-0000", "1995-1837-0001"]


@pytest.fixture(scope="module")
def clips(more_speech_recordings):
    by_id = {r.id: r for r in more_speech_recordings}
    return {clip: by_id[clip].load() for clip in REAL}


@pytest.mark.parametrize("clip", REAL)
def test_real_speech_median_f0_agrees_with_librosa_yin(clips, clip):
    """librosa's YIN (1024-sample frames, its own code) at our voiced frames: the medians differ by 0.3-2.4%
    on these clips and 90-96% of the frames agree within 5%; bounds 6% and 80%."""
    librosa = pytest.importorskip("librosa")
    audio = clips[clip]
    track = estimate_pitch(audio)
    reference = librosa.yin(audio, fmin=60, fmax=400, sr=RATE, frame_length=1024, hop_length=160)
    frames = np.flatnonzero(track.voiced)
    frames = frames[frames + 2 < len(reference)]  # librosa's frame i+2 is centred where ours i is (centre=True)
    assert len(frames) > 200
    assert track.median_hz == pytest.approx(np.median(reference[frames + 2]), rel=0.06)
    assert np.mean(np.abs(reference[frames + 2] / track.f0_hz[frames] - 1) < 0.05) > 0.8


def test_silence_noise_and_short_audio_have_no_voiced_frames():
    rng = np.random.default_rng(1)
    assert estimate_pitch(np.zeros(RATE, np.float32)).voiced_frames == 0
    assert estimate_pitch(harmonic_tone(150.0, 0.03)).voiced_frames == 0  # shorter than one 40 ms frame
    assert estimate_pitch(harmonic_tone(150.0, 0.03)).median_hz is None
    noise = (0.1 * rng.standard_normal(RATE)).astype(np.float32)
    assert estimate_pitch(noise).voiced_frames < 5  # white noise is aperiodic (measured: 0)


def test_bad_audio_is_a_clear_error():
    with pytest.raises(ValueError, match="finite"):
        estimate_pitch(np.array([0.0, np.nan] * 800, np.float32))
    with pytest.raises(ValueError, match="mono"):
        estimate_pitch(np.zeros((2, 1000), np.float32))
    with pytest.raises(ValueError, match="too short"):
        PitchConfig(frame_s=0.02)


def synthetic_vowel(f0: float, formants: list[float], seconds: float = 1.0) -> np.ndarray:
    """A glottal pulse train through a cascade of two-pole resonators (80 Hz bandwidth each), made with scipy."""
    from scipy.signal import lfilter

    pulses = np.zeros(int(seconds * RATE))
    pulses[::int(round(RATE / f0))] = 1.0
    source = lfilter([1.0], [1.0, -0.95], pulses)  # a glottal roll-off
    out = source
    for f in formants:
        r = np.exp(-np.pi * 80.0 / RATE)
        out = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / RATE), r * r], out)
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


@pytest.mark.parametrize("spacing", [1000.0, 1200.0])
def test_formants_of_a_synthetic_uniform_tube_vowel(spacing):
    """Resonances at (2i-1) dF/2 (a uniform tube): F1-F4 within 5% and dF within 3% (measured: F1 2-3% off,
    F2-F4 under 1%, dF under 0.5%)."""
    pytest.importorskip("scipy")
    formants = [spacing * k for k in (0.5, 1.5, 2.5, 3.5)]
    vowel = synthetic_vowel(110.0, formants)
    track = estimate_pitch(vowel)
    result = formant_spacing(vowel, track.times_s[track.voiced])
    assert result.frames > 50
    assert np.all(np.abs(np.median(result.formants_hz, axis=0) / formants - 1) < 0.05)
    assert result.median_hz == pytest.approx(spacing, rel=0.03)


def test_formants_of_nothing_and_bad_settings():
    assert formant_spacing(np.zeros(0, np.float32), [0.5]).median_hz is None
    assert formant_spacing(np.zeros(RATE, np.float32), [0.5]).frames == 0
    with pytest.raises(ValueError, match="order"):
        FormantConfig(order=4)
