"""Voice casting on the shared recordings whose speaker's sex is published: per clip, per speaker, and as a
stream (docs/translation.md, "Voice casting").

    PYTHONPATH=$PWD python scripts/casting_accuracy.py [--data ../shared/data] [--markdown]

Per clip: each clip cast alone (a fresh VoiceCaster: the line's own evidence, or the first-line guess).
Stream: every clip of speech_more and speech in manifest order through one VoiceCaster, each clip a line,
with the pause that `long.wav` / `dev_long.wav` put between them (about 0.6-1.5 s: README of each set), so the
hysteresis is measured where speakers change. Sex facts: LJ Speech is one woman (Linda Johnson); the JFK clip
is John F. Kennedy; LibriSpeech SPEAKERS.TXT lists reader 1089 as M and 1995 as F. The other speakers (CMU
cards, Harvard sentences, LibriVox Sense and Sensibility, FLEURS, the SpeechRecognition sample) have no
published sex: their clips are cast and shown but not scored.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from rtvoice.pipeline.casting import VoiceCaster, sex_evidence

VOICES = {"female": "F", "male": "M"}


def known_sex(clip_id: str) -> tuple[str, str | None]:
    """(speaker, "female"/"male"/None) of a shared clip."""
    if clip_id.startswith("LJ"):
        return "LJ Speech (Linda Johnson)", "female"
    if clip_id == "jfk":
        return "J. F. Kennedy", "male"
    if clip_id.startswith("1089-"):
        return "LibriSpeech 1089", "male"
    if clip_id.startswith("1995-"):
        return "LibriSpeech 1995", "female"
    for prefix, speaker in (("fleurs-", "FLEURS readers"), ("pocketsphinx_", "CMU pocketsphinx speaker(s)"),
                            ("spk1_", "Harvard sentences (speechbrain spk1)"),
                            ("sense_and_sensibility", "LibriVox Sense and Sensibility reader"),
                            ("speech_recognition", "SpeechRecognition sample")):
        if clip_id.startswith(prefix):
            return speaker, None
    return clip_id, None


def clips(data: Path) -> list[tuple[str, np.ndarray]]:
    out = []
    for folder in ("speech_more", "speech"):
        with open(data / folder / "manifest.tsv", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if row["id"] in ("long", "dev_long"):
                    continue
                audio, rate = sf.read(data / folder / row["wav"], dtype="float32")
                assert rate == 16000, row["id"]
                out.append((row["id"], audio))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20261201)
    rows, per_speaker, stream_right, stream_known = [], {}, 0, 0
    stream = VoiceCaster(VOICES)
    t = 0.0
    for clip_id, audio in clips(args.data):
        speaker, sex = known_sex(clip_id)
        evidence = sex_evidence(audio)
        alone = VoiceCaster(VOICES).cast_evidence(evidence)
        start, end = t, t + len(audio) / 16000
        in_stream = stream.cast_evidence(evidence, start, end)
        t = end + rng.uniform(0.6, 1.5)
        rows.append((clip_id, speaker, sex, evidence, alone, in_stream))
        if sex is not None:
            right = alone == VOICES[sex]
            tally = per_speaker.setdefault(speaker, [0, 0, sex])
            tally[0] += right
            tally[1] += 1
            stream_right += in_stream == VOICES[sex]
            stream_known += 1

    def fmt(x, digits=0):
        return "-" if x is None else f"{x:.{digits}f}"

    bar = "|" if args.markdown else ""
    print(f"{bar} clip {bar} speaker {bar} sex {bar} F0 median Hz {bar} dF Hz (frames) {bar} voiced s {bar} evidence {bar} "
          f"cast alone {bar} cast in stream {bar}")
    if args.markdown:
        print("|---" * 9 + "|")
    for clip_id, speaker, sex, e, alone, in_stream in rows:
        print(f"{bar} {clip_id} {bar} {speaker} {bar} {sex or '?'} {bar} {fmt(e.median_f0_hz)} {bar} "
              f"{fmt(e.formant_spacing_hz)} ({e.formant_frames}) {bar} {e.voiced_s:.2f} {bar} {e.sex or '-'} ({e.reason}) {bar} {alone} "
              f"{bar} {in_stream} {bar}")
    print()
    print(f"{bar} speaker {bar} sex {bar} clips cast right (alone) {bar}")
    if args.markdown:
        print("|---" * 3 + "|")
    right = total = 0
    for speaker, (r, n, sex) in per_speaker.items():
        print(f"{bar} {speaker} {bar} {sex} {bar} {r}/{n} {bar}")
        right, total = right + r, total + n
    print(f"\nclips of known sex cast right alone: {right}/{total}; in the stream (hysteresis): "
          f"{stream_right}/{stream_known}")
    print(stream.report_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
