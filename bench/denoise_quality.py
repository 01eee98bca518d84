"""Speech-enhancement quality of rtvoice's Denoiser against its peers, on the shared real recordings.

    python -m bench.denoise_quality --out bench/results/denoise_quality.md [--jobs 2] [--quick]

Every speech utterance of ``../shared/data/speech`` (dev_long excluded) is mixed with every noise of
``../shared/data/noise`` at 0, 5 and 10 dB SNR (power over the whole utterance), the noise starting at
a fixed pseudo-random offset per (utterance, noise) pair ("eval" split; the denoiser's settings were
tuned on the "tune" split, whose offsets differ). Each method hears, like a live stream, 1 s of the
same noise before the utterance (--lead-in-s); scores cover the utterance only, each output aligned
by the method's delay (known for rtvoice, measured by cross-correlation for the peers). Scores:
wide-band PESQ (ITU-T P.862.2, `pesq`), STOI (`pystoi`) and SI-SDR, means over the mixtures. The
"clean" rows run each method on the clean utterances (no lead-in): a perfect method keeps PESQ at
the clean reference's own score (4.64).

Peers: SpeexDSP's preprocessor (libspeexdsp, denoise only), WebRTC noise suppression level 2
(webrtc-noise-gain), RNNoise (48 kHz model, resampled with soxr), noisereduce (offline, whole signal).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from bench import denoise_peers as dp

SNRS = (0.0, 5.0, 10.0)
METHODS = ("noisy input", "rtvoice", "SpeexDSP", "WebRTC NS", "RNNoise", "noisereduce")
QUICK_UTTERANCES = (
    "sense_and_sensibility_01_austen_64kb-0870",
    "sense_and_sensibility_01_austen_64kb-0920",
    "spk1_snt2",
    "spk1_snt5",
)


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([x.astype(np.float32), np.zeros(n, np.float32)])


def run_method(method: str, x: np.ndarray) -> tuple[np.ndarray, int | None]:
    """(output, delay): delay in samples when fixed and known, None when it must be measured."""
    if method == "noisy input":
        return x, 0
    if method == "rtvoice":
        from rtvoice.frontend.denoise import Denoiser

        d = Denoiser(dp.SAMPLE_RATE)
        return d.process(_pad(x, d.latency_samples)), d.latency_samples
    if method == "SpeexDSP":
        return dp.SpeexDenoiser().process_frames(_pad(x, 1600)), None
    if method == "WebRTC NS":
        return dp.WebRtcDenoiser().process_frames(_pad(x, 1600)), None
    if method == "RNNoise":
        return dp.RnnoiseDenoiser().process_signal(_pad(x, 1600)), None
    if method == "noisereduce":
        return dp.noisereduce_signal(x), 0
    raise ValueError(method)


def measure_delays(probe: dp.Mixture) -> dict[str, int]:
    """Each method's delay, from the cross-correlation of its output with the clean utterance."""
    delays = {}
    for method in METHODS:
        out, known = run_method(method, probe.stream())
        lead = len(probe.lead_in)
        measured = dp.estimate_delay(probe.clean, out[lead:])
        delays[method] = known if known is not None else measured
        if known is not None and method == "rtvoice" and measured != known:
            print(f"note: rtvoice cross-correlation delay {measured} != latency_samples {known}", file=sys.stderr)
    return delays


_MIXES: list[dp.Mixture] = []
_CLEAN: list[np.ndarray] = []
_DELAYS: dict[str, int] = {}


def _init(mixes, clean, delays) -> None:
    global _MIXES, _CLEAN, _DELAYS
    _MIXES, _CLEAN, _DELAYS = mixes, clean, delays


def _score_mix(job: tuple[str, int]) -> tuple[str, float, dict]:
    method, i = job
    m = _MIXES[i]
    out, _ = run_method(method, m.stream())
    est = dp.align(out[len(m.lead_in) :], _DELAYS[method], len(m.clean))
    return method, m.snr_db, dp.scores(m.clean, est)


def _score_clean(job: tuple[str, int]) -> tuple[str, float, dict]:
    method, i = job
    x = _CLEAN[i]
    out, _ = run_method(method, x)
    est = dp.align(out, _DELAYS[method], len(x))
    return method, float("inf"), dp.scores(x, est)


def evaluate(jobs: int, quick: bool, lead_in_s: float) -> tuple[dict, dict, int, int]:
    utterances = QUICK_UTTERANCES if quick else None
    mixes = dp.mixtures(SNRS, split="eval", utterances=utterances, lead_in_s=lead_in_s)
    speech = dp.load_speech()
    clean = [s for uid, s in speech.items() if utterances is None or uid in utterances]
    probe = next(m for m in mixes if m.snr_db == 10.0)
    delays = measure_delays(probe)
    work = [(method, i) for i in range(len(mixes)) for method in METHODS]
    clean_work = [(method, i) for i in range(len(clean)) for method in METHODS]
    with Pool(jobs, initializer=_init, initargs=(mixes, clean, delays)) as pool:
        results = pool.map(_score_mix, work, chunksize=4) + pool.map(_score_clean, clean_work, chunksize=2)
    table: dict[tuple[str, float], dict[str, float]] = {}
    for method in METHODS:
        for snr in (*SNRS, float("inf")):
            rows = [r for (mth, s, r) in results if mth == method and s == snr]
            table[(method, snr)] = {k: float(np.mean([r[k] for r in rows])) for k in ("pesq", "stoi", "si_sdr")}
    return table, delays, len(mixes), len(clean)


def render(table: dict, delays: dict, n_mix: int, n_clean: int, quick: bool, lead_in_s: float, seconds: float) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Denoiser quality: rtvoice vs peers",
        "",
        f"{n_mix} mixtures ({n_mix // len(SNRS)} utterance x noise pairs per SNR"
        + (", quick subset of 4 utterances" if quick else ", every utterance x every noise")
        + f"), {lead_in_s:g} s noise lead-in, \"eval\" noise offsets; means over mixtures. "
        f"Clean rows: the {n_clean} clean utterances. Produced by `python -m bench.denoise_quality` in "
        f"{seconds:.0f} s ({cpu}).",
        "",
        "Delays used for alignment (samples at 16 kHz): "
        + ", ".join(f"{m} {d}" for m, d in delays.items() if m != "noisy input")
        + ".",
        "",
        "| method | SNR | PESQ-WB | STOI | SI-SDR (dB) |",
        "|---|---|---|---|---|",
    ]
    for snr in (*SNRS, float("inf")):
        for method in METHODS:
            r = table[(method, snr)]
            label = "clean" if snr == float("inf") else f"{snr:g} dB"
            name = f"**{method}**" if method == "rtvoice" else method
            sdr = "inf" if r["si_sdr"] > 100 else f"{r['si_sdr']:.2f}"  # the clean input is its own reference
            lines.append(f"| {name} | {label} | {r['pesq']:.3f} | {r['stoi']:.3f} | {sdr} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--quick", action="store_true", help="4 utterances only (about a third of the time)")
    parser.add_argument("--lead-in-s", type=float, default=1.0, help="noise heard before each utterance (s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    table, delays, n_mix, n_clean = evaluate(args.jobs, args.quick, args.lead_in_s)
    text = render(table, delays, n_mix, n_clean, args.quick, args.lead_in_s, time.perf_counter() - start)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
