"""Measure how much padding Whisper's encoder window needs (a measurement, not a test; ~10 min on 2 cores).

    PYTHONPATH=. RTVOICE_SHARED_DATA=/work/shared/data python scripts/measure_window_rule.py [--whole]
    CT2_FORCE_CPU_ISA=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ... (another CPU's rounding: see scripts/test_isa.py)

``--whole``: only whole utterances, the 11 of speech/ and the 58 of speech_more/ (1062 words), for the
30 s window and margins of 5, 7 and 10 s (~2-4 min): what differs from one instruction set to another.

Audio: the 11 shared utterances, the same mixed with recorded noise (noise1) at 10 dB SNR, and the five
"cards" utterances of Debian's pocketsphinx-testdata when installed (very short: 1-3.5 s). Each is cut at
every 0.5 s (the audio a partial decode sees) and whole (what a final sees). Every cut is decoded with
Whisper's full 30 s window and with windows of ceil((n + margin) / 100) * 100 frames for several margins.

Reported per margin: WER of the whole utterances against their transcripts (clean / noisy / cards; plain,
and checked = with the fallback), WER
of every cut against the 30 s window's text of the same cut, with and without the hallucination checks
(a flagged result is replaced by the 30 s window's, as the recognizer's fallback does), and how many
results were flagged.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rtvoice.asr import WhisperConfig, WhisperRecognizer, WindowRule  # noqa: E402
from rtvoice.metrics.text import normalize_english  # noqa: E402
from rtvoice.asr.whisper import FULL_WINDOW  # noqa: E402

CARDS = Path("/usr/share/pocketsphinx/test/data/cards")
CARDS_TEXT = ["ten of clubs", "four queen of clubs", "seven of clubs", "five five",
              "eight of spades four of clubs seven of hearts"]
MARGINS = (0, 200, 300, 500, 700)


def data_dir() -> Path:
    for candidate in (Path(os.environ.get("RTVOICE_SHARED_DATA", "")), REPO.parent / "shared" / "data"):
        if (candidate / "speech" / "manifest.tsv").is_file():
            return candidate
    sys.exit("shared data not found: set RTVOICE_SHARED_DATA")


def load_sets() -> dict[str, list[tuple[str, np.ndarray, str]]]:
    data = data_dir()
    with open(data / "speech" / "manifest.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["id"] != "dev_long"]
    clean = [(r["id"], sf.read(data / "speech" / r["wav"], dtype="float32")[0], r["transcript"]) for r in rows]
    noise = sf.read(data / "noise" / "wav" / "noise1.wav", dtype="float32")[0]
    noisy = []
    for name, audio, text in clean:
        n = noise[: len(audio)]
        gain = np.sqrt(np.mean(audio ** 2) / np.mean(n ** 2) / 10.0)  # 10 dB SNR
        noisy.append((name + "+noise10dB", (audio + gain * n).astype(np.float32), text))
    sets = {"clean": clean, "noisy": noisy}
    if CARDS.is_dir():
        sets["cards"] = [(f"cards{i}", sf.read(CARDS / f"00{i}.wav", dtype="float32")[0], CARDS_TEXT[i - 1])
                         for i in range(1, 6)]
    return sets


def errors(reference: str, hypothesis: str) -> tuple[int, int]:
    ref, hyp = normalize_english(reference), normalize_english(hypothesis)
    if not ref:
        return 0, 0
    o = jiwer.process_words(ref, hyp or "-")
    return o.substitutions + o.deletions + o.insertions, len(ref.split())


def whole_utterances(recognizer) -> int:
    """WER of whole utterances per set and margin, with the instruction sets in force."""
    data = data_dir()
    isa = (os.environ.get("CT2_FORCE_CPU_ISA", "native"), os.environ.get("ONEDNN_MAX_CPU_ISA", "native"))
    print(f"CT2_FORCE_CPU_ISA={isa[0]} ONEDNN_MAX_CPU_ISA={isa[1]}")
    print(f"{'window':>14} | " + " | ".join(f"{s:>24}" for s in ("speech", "speech_more", "all")) + " | fell back")
    sets = {}
    for name in ("speech", "speech_more"):
        with open(data / name / "manifest.tsv", newline="") as f:
            rows = [r for r in csv.DictReader(f, delimiter="\t") if r["id"] not in ("dev_long", "long")]
        sets[name] = [(sf.read(data / name / r["wav"], dtype="float32")[0], r["transcript"]) for r in rows]
    for label, rule in [("30 s", FULL_WINDOW)] + [(f"speech + {m // 100} s", WindowRule(margin=m, multiple=100))
                                                  for m in (500, 700, 1000)]:
        cells, total, fell_back = [], [0, 0], 0
        for items in sets.values():
            e = n = 0
            for audio, text in items:
                result = recognizer.transcribe(audio, word_timestamps=False, window=rule)
                fell_back += result.fell_back
                de, dn = errors(text, result.text)
                e, n = e + de, n + dn
            cells.append(f"{e / n:6.2%} ({e:2d}/{n:4d} words)")
            total = [total[0] + e, total[1] + n]
        cells.append(f"{total[0] / total[1]:6.2%} ({total[0]:2d}/{total[1]:4d} words)")
        print(f"{label:>14} | " + " | ".join(f"{c:>24}" for c in cells) + f" | {fell_back}", flush=True)
    return 0


def main() -> int:
    recognizer = WhisperRecognizer(WhisperConfig(device="cpu", threads=2))
    if "--whole" in sys.argv[1:]:
        return whole_utterances(recognizer)
    sets = load_sets()
    cuts = []  # (set, name, is_whole, audio, transcript)
    for set_name, items in sets.items():
        for name, audio, text in items:
            ends = list(np.arange(0.5, len(audio) / 16000, 0.5)) + [len(audio) / 16000]
            cuts += [(set_name, name, end == ends[-1], audio[: int(end * 16000)], text) for end in ends]
    print(f"{len(cuts)} cuts of {sum(len(v) for v in sets.values())} utterances")
    t0 = time.perf_counter()
    full = [recognizer.transcribe(c[3], word_timestamps=False, fallback=False, window=FULL_WINDOW).text for c in cuts]
    full_seconds = time.perf_counter() - t0
    header = (f"{'window':>22} | " + " | ".join(f"{s} WER plain/checked" for s in sets)
              + " | cuts vs 30 s plain | checked | flagged | s")
    print(header)
    rows = [("30 s", full, full, 0, full_seconds)]
    for margin in MARGINS:
        rule = WindowRule(margin=margin, multiple=100)
        t0 = time.perf_counter()
        results = [recognizer.transcribe(c[3], word_timestamps=False, fallback=False, window=rule) for c in cuts]
        seconds = time.perf_counter() - t0
        plain = [r.text for r in results]
        checked = [full[i] if r.problems else r.text for i, r in enumerate(results)]
        rows.append((f"speech + {margin / 100:.0f} s, 1 s steps", plain, checked, sum(bool(r.problems) for r in results),
                     seconds))
    for label, plain, checked, flagged, seconds in rows:
        whole = []
        for set_name in sets:
            counts = []
            for texts in (plain, checked):
                e = n = 0
                for c, text in zip(cuts, texts):
                    if c[0] == set_name and c[2]:
                        de, dn = errors(c[4], text)
                        e, n = e + de, n + dn
                counts.append(e / n)
            whole.append(f"{counts[0]:.3f}/{counts[1]:.3f}")
        vs_full = [sum(x) for x in zip(*(errors(f, p) for f, p in zip(full, plain)))]
        vs_full_checked = [sum(x) for x in zip(*(errors(f, p) for f, p in zip(full, checked)))]
        print(f"{label:>22} | " + " | ".join(whole) + f" | {vs_full[0] / vs_full[1]:.3f} | "
              f"{vs_full_checked[0] / vs_full_checked[1]:.3f} | {flagged} | {seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
