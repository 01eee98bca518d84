"""rtvoice.Denoiser quality on real recordings: no harm to clean speech, and ahead of SpeexDSP and
WebRTC noise suppression on noisy speech (wide-band PESQ, SI-SDR). The full table with all peers and
SNRs is produced by `python -m bench.denoise_quality`.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import shared_data_dir

from rtvoice.frontend.denoise import denoise


def _utterances() -> dict[str, np.ndarray]:
    import soundfile as sf

    folder = shared_data_dir() / "speech"
    with open(folder / "manifest.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["id"] != "dev_long"]
    return {r["id"]: sf.read(folder / r["wav"], dtype="float32")[0] for r in rows}


def test_clean_speech_is_not_harmed():
    # Each clean utterance from its first sample (no lead-in: the hardest start): the wide-band PESQ of
    # the output against the input may drop by at most 0.1 on average. (SpeexDSP, WebRTC NS and
    # RNNoise drop it by 0.6-0.7 here; see bench/results/denoise_quality.md.)
    from pesq import pesq

    speech = _utterances()
    assert len(speech) == 11
    ceiling, scores = [], []
    for x in speech.values():
        ceiling.append(pesq(16000, x, x, "wb"))
        scores.append(pesq(16000, x, denoise(x), "wb"))
    drop = np.mean(ceiling) - np.mean(scores)
    assert drop <= 0.1, (round(float(drop), 3), np.round(scores, 2))
    assert min(scores) > 4.2, np.round(scores, 2)


@pytest.mark.slow
def test_beats_speexdsp_and_webrtc_at_5db():
    # 4 utterances x 4 real noises at 5 dB SNR ("eval" offsets, 1 s noise lead-in like a live stream).
    from bench import denoise_quality as q

    mixes = q.dp.mixtures([5.0], split="eval", utterances=q.QUICK_UTTERANCES, lead_in_s=1.0)
    assert len(mixes) == 16
    methods = ("noisy input", "rtvoice", "SpeexDSP", "WebRTC NS")
    delays = {"noisy input": 0, "rtvoice": None, "SpeexDSP": None, "WebRTC NS": None}
    probe = mixes[0]
    for method in methods[1:]:
        out, known = q.run_method(method, probe.stream())
        delays[method] = known if known is not None else q.dp.estimate_delay(probe.clean, out[len(probe.lead_in) :])
    means = {}
    for method in methods:
        rows = []
        for m in mixes:
            out, _ = q.run_method(method, m.stream())
            est = q.dp.align(out[len(m.lead_in) :], delays[method], len(m.clean))
            rows.append(q.dp.scores(m.clean, est))
        means[method] = {k: float(np.mean([r[k] for r in rows])) for k in ("pesq", "stoi", "si_sdr")}
    ours = means["rtvoice"]
    for peer in ("noisy input", "SpeexDSP", "WebRTC NS"):
        assert ours["pesq"] > means[peer]["pesq"] + 0.03, means
        assert ours["si_sdr"] > means[peer]["si_sdr"] + 0.5, means
    assert ours["stoi"] > means["noisy input"]["stoi"], means


def _si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    s = reference - reference.mean()
    e = estimate - estimate.mean()
    target = np.dot(e, s) / np.dot(s, s) * s
    return float(10 * np.log10(np.dot(target, target) / np.dot(e - target, e - target)))


def test_48k_enhances_like_16k():
    # The same noisy utterance at 16 kHz and resampled to 48 kHz: both runs must improve SI-SDR by
    # several dB, and by about the same amount.
    import soundfile as sf
    import soxr

    speech = _utterances()["spk1_snt2"].astype(np.float64)
    noise, _ = sf.read(shared_data_dir() / "noise" / "wav" / "noise1.wav")
    lead = 16000
    noise = noise[5000 : 5000 + lead + len(speech)]
    gain = np.sqrt(np.sum(speech**2) / np.sum(noise[lead:] ** 2) / 10 ** (5 / 10))
    stream = (np.concatenate([np.zeros(lead), speech]) + gain * noise).astype(np.float32)
    out16 = denoise(stream)[lead:]
    out48 = soxr.resample(denoise(soxr.resample(stream, 16000, 48000), 48000), 48000, 16000)[lead:]
    base = _si_sdr(speech, stream[lead:].astype(np.float64))
    gain16 = _si_sdr(speech, out16.astype(np.float64)) - base
    gain48 = _si_sdr(speech, out48[: len(speech)].astype(np.float64)) - base
    assert gain16 > 2.0 and gain48 > 2.0, (gain16, gain48)
    assert abs(gain16 - gain48) < 1.0, (gain16, gain48)
