"""Join one language's clips of ../shared/data/speech_multi into one WAV with pauses between them (a
measurement input, not committed), and list where each clip starts.

    PYTHONPATH=. python scripts/join_clips.py --language es --out /tmp/es_joined.wav [--pause 1.0] [--clips 3]

The clips are taken in manifest order (fleurs-es-000, -001, ...), each preceded by ``--pause`` seconds of
digital silence (so the first one starts at the pause, not at 0). ``--starts FILE`` writes the start (s)
of each clip, one a line, for checking a dubbed track against them. ``--sets speech_more --shuffle 7``
joins English clips instead (the arrangements of docs/asr.md "Sooner commits"). Used for the es→en and pt→en dub
latency in docs/translation.md:

    rtvoice dub /tmp/es_joined.wav --realtime --language es --translate-to en --wav /tmp/es_en.wav \\
        --srt es=/tmp/es.srt --srt en=/tmp/en.srt --stats /tmp/es_en.json --quiet
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16000


def shared_data() -> Path:
    for candidate in (Path(os.environ.get("RTVOICE_SHARED_DATA", "")), REPO.parent / "shared" / "data"):
        if (candidate / "speech_multi" / "manifest.tsv").is_file():
            return candidate
    sys.exit("shared data not found: set RTVOICE_SHARED_DATA")


def english_clips(sets: list[str], data: Path | None = None) -> list[dict]:
    """The single utterances of English sets (speech, speech_more: their long joined files left out)."""
    rows = []
    for name in sets:
        folder = (data or shared_data()) / name
        with open(folder / "manifest.tsv", newline="", encoding="utf-8") as f:
            rows += [dict(row, path=str(folder / row["wav"])) for row in csv.DictReader(f, delimiter="\t")
                     if row["id"] not in ("long", "dev_long")]
    return rows


def clips(language: str, data: Path | None = None) -> list[dict]:
    """The manifest rows of ``language``, in manifest order."""
    folder = (data or shared_data()) / "speech_multi"
    with open(folder / "manifest.tsv", newline="", encoding="utf-8") as f:
        return [dict(row, path=str(folder / row["wav"])) for row in csv.DictReader(f, delimiter="\t")
                if row["lang"] == language]


def join(rows: list[dict], pause_s: float, tail_s: float | None = None) -> tuple[np.ndarray, list[float]]:
    """The clips with ``pause_s`` of silence before each and `tail_s` (default: `pause_s`) after the last, and
    each clip's start (s)."""
    import soundfile as sf

    parts, starts, at = [], [], 0
    silence = np.zeros(int(round(pause_s * SAMPLE_RATE)), np.float32)
    for row in rows:
        audio, rate = sf.read(row["path"], dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            raise SystemExit(f"{row['path']} is {rate} Hz, not {SAMPLE_RATE}")
        parts += [silence, audio[:, 0]]
        at += len(silence)
        starts.append(at / SAMPLE_RATE)
        at += len(audio)
    tail = silence if tail_s is None else np.zeros(int(round(tail_s * SAMPLE_RATE)), np.float32)
    return np.concatenate(parts + [tail]), starts


def main() -> int:
    import soundfile as sf

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--language", help="lang column of speech_multi's manifest: es, pt, de, fr, zh")
    which.add_argument("--sets", help="English sets instead, comma-separated: speech, speech_more")
    p.add_argument("--shuffle", type=int, metavar="SEED", help="in a random order (Python's random.Random(SEED))")
    p.add_argument("--tail", type=float, help="seconds of silence after the last clip (default: --pause)")
    p.add_argument("--transcript", type=Path, help="write the clips' transcripts, joined, to this file")
    p.add_argument("--out", type=Path, required=True, help="the joined WAV (16 kHz mono)")
    p.add_argument("--pause", type=float, default=1.0, help="seconds of silence before each clip (default 1)")
    p.add_argument("--clips", type=int, default=0, help="only the first N clips (default: all)")
    p.add_argument("--starts", type=Path, help="write each clip's start (s) to this file, one a line")
    args = p.parse_args()
    if not 0 <= args.pause <= 10:
        p.error("--pause must be within 0..10 s")
    rows = clips(args.language) if args.language else english_clips(args.sets.split(","))
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(rows)
    if args.clips:
        rows = rows[:args.clips]
    if not rows:
        p.error(f"no clips of language {args.language!r} in speech_multi/manifest.tsv" if args.language
                else f"no clips in {args.sets}")
    audio, starts = join(rows, args.pause, args.tail)
    sf.write(args.out, audio, SAMPLE_RATE)
    if args.transcript:
        args.transcript.write_text(" ".join(row["transcript"] for row in rows) + "\n", encoding="utf-8")
    if args.starts:
        args.starts.write_text("".join(f"{s:.3f}\n" for s in starts))
    print(f"{args.out}: {len(rows)} clip(s), {len(audio) / SAMPLE_RATE:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
