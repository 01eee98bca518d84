"""Kaldi fbank/MFCC, Whisper log-mel and mel filter banks against independent references."""

from __future__ import annotations

import kaldi_native_fbank as knf
import librosa
import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtvoice import features as F

WINDOWS = ["povey", "hamming", "hanning", "rectangular"]


def int16_scale(audio: np.ndarray) -> np.ndarray:
    return (audio * 32768.0).astype(np.float32)


def knf_frames(computer, samples: np.ndarray, sample_rate: float) -> np.ndarray:
    computer.accept_waveform(sample_rate, samples.tolist())
    computer.input_finished()
    return np.array([computer.get_frame(i) for i in range(computer.num_frames_ready)], dtype=np.float32)


def knf_frame_opts(target, *, snip_edges: bool, window: str, sample_rate: float = 16000) -> None:
    target.frame_opts.dither = 0.0
    target.frame_opts.snip_edges = snip_edges
    target.frame_opts.window_type = window
    target.frame_opts.samp_freq = sample_rate


def float64_log_mel(samples: np.ndarray, opts: F.FbankOptions) -> np.ndarray:
    """Kaldi's fbank recipe in float64 numpy: the ground truth both float32 implementations approximate."""
    fo = opts.frame_opts
    length, shift, padded = fo.window_size, fo.window_shift, fo.padded_window_size
    x = samples.astype(np.float64)
    n = np.arange(length)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (length - 1))
    window = {"povey": hann**0.85, "hanning": hann, "hamming": 0.54 - 0.46 * np.cos(2 * np.pi * n / (length - 1)),
              "rectangular": np.ones(length)}[fo.window_type]
    frames = []
    for start in range(0, len(x) - length + 1, shift):
        w = x[start:start + length].copy()
        w -= w.mean()
        w[1:] -= fo.preemph_coeff * w[:-1].copy()
        w[0] -= fo.preemph_coeff * w[0]
        frames.append(np.abs(np.fft.rfft(w * window, padded)) ** 2)
    bank = F.kaldi_mel_filters(opts.mel_opts, fo.samp_freq, padded).astype(np.float64)
    return np.log(np.maximum(np.array(frames) @ bank.T, np.finfo(np.float32).eps))


@pytest.mark.parametrize("snip_edges", [True, False])
@pytest.mark.parametrize("window", WINDOWS)
def test_fbank_matches_kaldi_native_fbank(speech_recordings, window, snip_edges):
    opts = F.fbank_options(dither=0.0, window_type=window, snip_edges=snip_edges, num_mel_bins=80, use_energy=True)
    ref_opts = knf.FbankOptions()
    knf_frame_opts(ref_opts, snip_edges=snip_edges, window=window)
    ref_opts.mel_opts.num_bins = 80
    ref_opts.use_energy = True
    for rec in speech_recordings[::3]:
        samples = int16_scale(rec.load())
        ours = F.Fbank(opts).compute(samples)
        ref = knf_frames(knf.OnlineFbank(ref_opts), samples, 16000)
        assert ours.shape == ref.shape
        # Mel bins holding less than float32's resolution of the frame's power (~1e-7 of it) are
        # rounding noise in both float32 implementations; there we require an error against a float64
        # computation of the same recipe of the same order as kaldi-native-fbank's. Everywhere else: 1e-3.
        mel_power = np.exp(ref[:, 1:])
        resolvable = mel_power >= 1e-6 * mel_power.sum(axis=1, keepdims=True)
        diff = np.abs(ours[:, 1:] - ref[:, 1:])
        assert diff[resolvable].max() <= 1e-3, rec.id
        assert np.abs(ours[:, 0] - ref[:, 0]).max() <= 1e-3  # log energy
        if snip_edges and (~resolvable).any():
            truth = float64_log_mel(samples, opts)
            ours_err = np.abs(ours[:, 1:] - truth)[~resolvable]
            ref_err = np.abs(ref[:, 1:] - truth)[~resolvable]
            assert ours_err.mean() <= 2.0 * ref_err.mean() and ours_err.max() <= 0.05


def float64_mfcc(samples: np.ndarray, opts: F.MfccOptions) -> np.ndarray:
    fbank_opts = F.fbank_options(num_mel_bins=opts.mel_opts.num_bins, window_type=opts.frame_opts.window_type)
    log_mel = float64_log_mel(samples, fbank_opts)
    n, q = opts.mel_opts.num_bins, opts.cepstral_lifter
    k = np.arange(opts.num_ceps)[:, None]
    dct = np.sqrt(2.0 / n) * np.cos(np.pi / n * (np.arange(n)[None, :] + 0.5) * k)
    dct[0] = np.sqrt(1.0 / n)
    ceps = (log_mel @ dct.T) * (1.0 + 0.5 * q * np.sin(np.pi * np.arange(opts.num_ceps) / q))
    fo = opts.frame_opts
    starts = range(0, len(samples) - fo.window_size + 1, fo.window_shift)
    frames = np.array([samples[s:s + fo.window_size].astype(np.float64) for s in starts])
    frames -= frames.mean(axis=1, keepdims=True)
    ceps[:, 0] = np.log(np.maximum((frames**2).sum(axis=1), np.finfo(np.float32).eps))
    return ceps


@pytest.mark.parametrize("snip_edges", [True, False])
@pytest.mark.parametrize("window", WINDOWS)
def test_mfcc_matches_kaldi_native_fbank(speech_recordings, window, snip_edges):
    opts = F.mfcc_options(dither=0.0, window_type=window, snip_edges=snip_edges)
    ref_opts = knf.MfccOptions()
    knf_frame_opts(ref_opts, snip_edges=snip_edges, window=window)
    fbank_ref_opts = knf.FbankOptions()
    knf_frame_opts(fbank_ref_opts, snip_edges=snip_edges, window=window)
    for rec in speech_recordings[::2]:
        samples = int16_scale(rec.load())
        ours = F.Mfcc(opts).compute(samples)
        ref = knf_frames(knf.OnlineMfcc(ref_opts), samples, 16000)
        assert ours.shape == ref.shape == (len(ref), 13)
        # The DCT spreads every mel bin over all coefficients, so a frame with a bin below float32's
        # resolution of its power (see the fbank test) carries rounding noise in both implementations.
        mel_power = np.exp(knf_frames(knf.OnlineFbank(fbank_ref_opts), samples, 16000))
        clean = (mel_power >= 1e-6 * mel_power.sum(axis=1, keepdims=True)).all(axis=1)
        assert clean.mean() > 0.8
        assert np.abs(ours - ref)[clean].max() <= 1e-3, rec.id
        if snip_edges and (~clean).any():
            truth = float64_mfcc(samples, opts)
            ours_err = np.abs(ours - truth)[~clean]
            ref_err = np.abs(ref - truth)[~clean]
            assert ours_err.mean() <= 2.0 * ref_err.mean() and ours_err.max() <= 0.05


@pytest.mark.parametrize(
    "fields",
    [
        dict(num_mel_bins=40, low_freq=64.0, high_freq=-400.0, use_energy=False),
        dict(frame_length_ms=32.0, frame_shift_ms=8.0, round_to_power_of_two=False, num_mel_bins=30),
        dict(sample_rate=8000.0, num_mel_bins=23, use_power=False),
        dict(use_log_fbank=False, num_mel_bins=23, preemph_coeff=0.0, remove_dc_offset=False),
    ],
)
def test_fbank_option_variants_match_reference(speech_recordings, fields):
    opts = F.fbank_options(dither=0.0, **fields)
    ref_opts = knf.FbankOptions()
    fo, mo = opts.frame_opts, opts.mel_opts
    for name in ["samp_freq", "frame_shift_ms", "frame_length_ms", "preemph_coeff", "remove_dc_offset",
                 "window_type", "round_to_power_of_two", "snip_edges"]:
        setattr(ref_opts.frame_opts, name, getattr(fo, name))
    ref_opts.frame_opts.dither = 0.0
    ref_opts.mel_opts.num_bins, ref_opts.mel_opts.low_freq, ref_opts.mel_opts.high_freq = mo.num_bins, mo.low_freq, mo.high_freq
    ref_opts.use_energy, ref_opts.use_power, ref_opts.use_log_fbank = opts.use_energy, opts.use_power, opts.use_log_fbank
    audio = speech_recordings[0].load()
    if fo.samp_freq == 8000.0:
        audio = librosa.resample(audio, orig_sr=16000, target_sr=8000).astype(np.float32)
    samples = int16_scale(audio)
    ours = F.Fbank(opts).compute(samples)
    ref = knf_frames(knf.OnlineFbank(ref_opts), samples, fo.samp_freq)
    assert ours.shape == ref.shape
    if opts.use_log_fbank:
        resolvable = np.exp(ref) >= 1e-6 * np.exp(ref).sum(axis=1, keepdims=True)
        assert np.abs(ours - ref)[resolvable].max() <= 1e-3
    else:
        np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=1e-3 * np.abs(ref).max())


def test_kaldi_mel_banks_match_librosa_htk_shape_positions():
    """Kaldi's banks are triangles on 1127 ln(1 + f/700): their peaks sit at librosa's HTK mel centres."""
    opts = F.MelBanksOptions()
    opts.num_bins, opts.low_freq, opts.high_freq = 23, 20.0, 0.0
    bank = F.kaldi_mel_filters(opts, 16000.0, 512)
    assert bank.shape == (23, 257)
    centres_hz = librosa.mel_frequencies(n_mels=25, fmin=20.0, fmax=8000.0, htk=True)[1:-1]
    peaks_hz = bank.argmax(axis=1) * 16000.0 / 512
    assert np.all(np.abs(peaks_hz - centres_hz) <= 16000.0 / 512)
    assert np.all(bank[:, -1] == 0.0)  # Kaldi never weights the Nyquist bin


@pytest.mark.parametrize("n_mels", [80, 128])
@pytest.mark.parametrize("n_fft, sr, fmax", [(400, 16000, None), (512, 16000, 7600.0), (1024, 22050, None)])
def test_slaney_mel_filters_match_librosa(n_mels, n_fft, sr, fmax):
    ours = F.slaney_mel_filters(sr, n_fft, n_mels, 0.0, -1.0 if fmax is None else fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmax=fmax)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_whisper_log_mel_matches_faster_whisper(speech_recordings, dev_long, n_mels):
    extractor = FeatureExtractor(feature_size=n_mels)
    mel = F.WhisperLogMel(n_mels)
    for rec in speech_recordings[:4] + [dev_long]:
        audio = rec.load()
        ours = mel.compute(audio)
        ref = extractor(audio, padding=0)
        assert ours.shape == ref.shape == (n_mels, len(audio) // 160)
        assert np.abs(ours - ref).max() <= 1e-3, rec.id
    np.testing.assert_allclose(mel.mel_filters, extractor.mel_filters, rtol=1e-5, atol=1e-8)


def test_whisper_log_mel_handles_30s_padding_like_whisper(speech_recordings):
    audio = speech_recordings[0].load()
    padded = np.concatenate([audio, np.zeros(16000 * 30, np.float32)])
    ours = F.WhisperLogMel().compute(padded)[:, :3000]
    ref = FeatureExtractor()(audio, padding=16000 * 30)[:, :3000]
    assert np.abs(ours - ref).max() <= 1e-3


def test_whisper_log_mel_short_and_empty_input():
    mel = F.WhisperLogMel()
    assert mel.compute(np.zeros(0, np.float32)).shape == (80, 0)
    short = np.random.default_rng(0).standard_normal(170).astype(np.float32)
    ref = FeatureExtractor()(short, padding=0)
    assert np.abs(mel.compute(short) - ref).max() <= 1e-3


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=12000), max_size=12),
    snip_edges=st.booleans(),
    kind=st.sampled_from(["fbank", "mfcc"]),
)
def test_streaming_features_equal_whole_computation(cuts, snip_edges, kind):
    rng = np.random.default_rng(len(cuts))
    samples = (rng.standard_normal(12000) * 1000).astype(np.float32)
    if kind == "fbank":
        computer = F.Fbank(F.fbank_options(snip_edges=snip_edges, use_energy=True))
    else:
        computer = F.Mfcc(F.mfcc_options(snip_edges=snip_edges))
    whole = computer.compute(samples)
    pieces = []
    bounds = [0, *sorted(cuts), len(samples)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        computer.accept_waveform(samples[a:b])
        pieces.append(computer.pop_frames())
    computer.input_finished()
    pieces.append(computer.pop_frames())
    streamed = np.concatenate(pieces)
    assert np.array_equal(streamed, whole)


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=10),
    length=st.integers(min_value=2, max_value=600),
    shift=st.integers(min_value=1, max_value=400),
    window=st.sampled_from(["hann", "hamming", "povey", "rectangular"]),
    snip_edges=st.booleans(),
)
# Odd frame length, centred: the last frame's mirrored reads reach one sample before its start.
@example(cuts=[2776], length=229, shift=16, window="hamming", snip_edges=False)
def test_framer_output_independent_of_chunking(cuts, length, shift, window, snip_edges):
    samples = np.random.default_rng(length * 7 + shift).standard_normal(3000).astype(np.float32)
    whole = F.Framer(length, shift, window, snip_edges)
    whole.accept_waveform(samples)
    whole.input_finished()
    expected = whole.pop_frames()

    framer = F.Framer(length, shift, window, snip_edges)
    bounds = [0, *sorted(cuts), len(samples)]
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        framer.accept_waveform(samples[a:b])
        pieces.append(framer.pop_frames())
    framer.input_finished()
    pieces.append(framer.pop_frames())
    assert np.array_equal(np.concatenate(pieces), expected)


def test_framer_frames_match_numpy_windows():
    samples = np.random.default_rng(3).standard_normal(2000).astype(np.float32)
    framer = F.Framer(400, 160, "hamming")
    framer.accept_waveform(samples)
    frames = framer.pop_frames()
    assert frames.shape == (1 + (2000 - 400) // 160, 400)
    expected = samples[160:560] * np.hamming(400).astype(np.float32)
    np.testing.assert_allclose(frames[1], expected, rtol=1e-6, atol=1e-6)


def test_centred_framing_matches_kaldi_frame_count_and_reflection():
    samples = np.arange(1000, dtype=np.float32)
    framer = F.Framer(400, 160, "rectangular", snip_edges=False)
    framer.accept_waveform(samples)
    framer.input_finished()
    frames = framer.pop_frames()
    assert len(frames) == (1000 + 80) // 160
    # Frame 0 starts at 80 - 200 = -120: samples -120..-1 reflect to 119..0.
    assert np.array_equal(frames[0][:120], samples[:120][::-1])
    assert np.array_equal(frames[0][120:], samples[:280])


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: F.fbank_options(window_type="gaussian"), ValueError),
        (lambda: F.fbank_options(num_mel_bins=2), ValueError),
        (lambda: F.fbank_options(low_freq=9000.0), ValueError),
        (lambda: F.fbank_options(frame_shift_ms=0.0), ValueError),
        (lambda: F.fbank_options(no_such_option=1), TypeError),
        (lambda: F.mfcc_options(num_ceps=40), ValueError),
        (lambda: F.WhisperLogMel(0), ValueError),
        (lambda: F.Framer(0, 160), ValueError),
    ],
)
def test_bad_options_are_clear_errors(make, error):
    with pytest.raises(error):
        make()


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.array([0.0, np.nan, 1.0], np.float32), ValueError),
        (np.array([np.inf] * 500, np.float32), ValueError),
        (np.zeros((400, 2), np.float32), ValueError),
        (np.array(["a", "b"]), TypeError),
    ],
)
def test_bad_waveforms_are_clear_errors(bad, error):
    with pytest.raises(error):
        F.Fbank(F.fbank_options()).compute(bad)
    with pytest.raises(error):
        F.WhisperLogMel().compute(bad)


def test_float64_and_int16_input_are_converted():
    samples = np.random.default_rng(1).standard_normal(4000) * 1000
    fbank = F.Fbank(F.fbank_options())
    np.testing.assert_array_equal(fbank.compute(samples), fbank.compute(samples.astype(np.float32)))
    ints = samples.astype(np.int16)
    np.testing.assert_array_equal(fbank.compute(ints), fbank.compute(ints.astype(np.float32)))


def test_options_print_their_values():
    text = str(F.fbank_options(num_mel_bins=40))
    assert "num_bins=40" in text and "window_type='povey'" in text and "dither=0" in text
