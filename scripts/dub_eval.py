"""Does the dubbed voice keep pace? Runs ``rtvoice dub FEED --realtime --translate-to LANG`` and prints the
issue's done-when table: the voice behind the speaker at line starts (p95 <= 3.0 s, max <= 5 s), EndOffset
(<= 3 s), the lag's trend (<= +0.1 s/min), the share of the translated words spoken (>= 95%, the rest counted),
and the dubbed track read back by multilingual Whisper base (CER <= 0.10; against the text the voice was
given to say, and against all the translated captions).

    PYTHONPATH=. python scripts/dub_eval.py --feed /tmp/feed.wav --make-feed --language es pt --out /tmp/dub_eval
    PYTHONPATH=. python scripts/dub_eval.py --feed ../shared/data/speech/wav/dev_long.wav --language pt \\
        --out /tmp/dub_eval -- --max-voice-lag off         # the same without pacing (arguments after -- go to dub)

``--make-feed`` writes the benchmark feed first: the shared English sets joined (scripts/join_clips.py
``--sets speech,speech_more --shuffle 7 --clips 45``: 45 utterances with 1 s before each, 5.2 minutes).
A measurement, not a test: run it on a quiet machine (it runs in real time, the read-back takes a minute
or two per language more).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FEED_CLIPS = 45
FEED_SEED = 7
GOALS = {"p95": 3.0, "max": 5.0, "end_offset": 3.0, "slope": 0.1, "words": 0.95, "cer": 0.10}


def make_feed(path: Path) -> None:
    """The benchmark feed (module docstring), through scripts/join_clips.py."""
    subprocess.run([sys.executable, str(REPO / "scripts" / "join_clips.py"), "--sets", "speech,speech_more",
                    "--shuffle", str(FEED_SEED), "--clips", str(FEED_CLIPS), "--out", str(path)], check=True)


def run_dub(feed: Path, language: str, out: Path, extra: list[str]) -> tuple[dict, list[dict], Path]:
    wav, jsonl, stats = out / f"dub_{language}.wav", out / f"{language}.jsonl", out / f"stats_{language}.json"
    command = [sys.executable, "-m", "rtvoice", "dub", str(feed), "--realtime", "--translate-to", language,
               "--wav", str(wav), "--jsonl", f"{language}={jsonl}", "--stats", str(stats), "--quiet", *extra]
    print("$ " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True, cwd=REPO)
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    return json.loads(stats.read_text()), records, wav


def clause_cost(records: list[dict], source: str, target: str) -> dict | None:
    """What translating clauses alone costs: the lines' translations joined per caption against the backend's
    translation of the whole caption (chrF, sacrebleu), over the captions cut into more than one line; None when
    none was."""
    import sacrebleu

    from rtvoice.mt import open_translator

    by_segment: dict[int, list[dict]] = {}
    for r in records:
        if r.get("kind") == "final":
            by_segment.setdefault(r["segment"], []).append(r)
    cut = [lines for lines in by_segment.values() if len(lines) > 1]
    if not cut:
        return None
    translator = open_translator(source, target)
    try:
        whole = [translator.translate(" ".join(r["source_text"] for r in lines)).text for lines in cut]
    finally:
        translator.close()
    joined = [" ".join(r["text"] for r in lines) for lines in cut]
    return {"captions_cut": len(cut), "captions": len(by_segment),
            "chrf_vs_whole": round(sacrebleu.corpus_chrf(joined, [whole]).score, 1)}


def read_run(out: Path, language: str) -> tuple[dict, list[dict], Path]:
    """What run_dub wrote into `out` for `language`."""
    jsonl, stats = out / f"{language}.jsonl", out / f"stats_{language}.json"
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    return json.loads(stats.read_text()), records, out / f"dub_{language}.wav"


def read_back(wav: Path, language: str) -> str:
    """The dubbed track transcribed by multilingual Whisper base (tests/multilingual_asr.py's ear)."""
    import soundfile as sf
    import soxr
    from faster_whisper import WhisperModel

    sys.path.insert(0, str(REPO / "tests"))
    from multilingual_asr import transcribe, whisper_base_dir

    audio, rate = sf.read(wav, dtype="float32")
    folder = Path(tempfile.mkdtemp(prefix="whisper-base-"))
    model = WhisperModel(str(whisper_base_dir(folder)), device="cpu", compute_type="int8", cpu_threads=2)
    return transcribe(model, soxr.resample(audio, rate, 16000).astype(np.float32), language)


def figures(stats: dict, records: list[dict], heard: str | None) -> dict:
    import jiwer

    from rtvoice.metrics.percentiles import percentiles

    sys.path.insert(0, str(REPO / "tests"))
    from multilingual_asr import normalise

    starts = percentiles(stats["voice_behind_line_start_s"])
    finals = [r for r in records if r.get("kind") == "final"]
    # a cut names its line by segment and text (a segment's clauses are lines of their own: --voice-lines clause)
    cuts = {(r["segment"], r["text"]): r for r in records if r.get("type") == "voice_lag"}
    said = [(cuts[key]["spoken"] or "") if (key := (f["segment"], f["text"])) in cuts else f["text"] for f in finals]
    out = {"lines": len(finals), "line_start_p50_s": starts["p50"], "line_start_p95_s": starts["p95"],
           "line_start_max_s": starts["max"], "end_offset_s": stats["simultaneous"]["end_offset_s"],
           "start_offset_s": stats["simultaneous"]["start_offset_s"], "atd_s": stats["simultaneous"]["atd_s"],
           "slope_s_per_min": stats["simultaneous"]["lag_slope_s_per_min"],
           "words_spoken_share": stats["dub_pacing"]["words_spoken_share"],
           "words_spoken": stats["dub_pacing"]["words_spoken"], "words_given": stats["dub_pacing"]["words_given"],
           "condensed": stats["dub_pacing"]["lines_condensed"], "dropped": stats["dub_pacing"]["lines_dropped"]}
    if heard is not None:
        out["cer_vs_said"] = round(float(jiwer.cer(normalise(" ".join(said)), normalise(heard))), 4)
        out["cer_vs_captions"] = round(float(jiwer.cer(normalise(" ".join(f["text"] for f in finals)),
                                                       normalise(heard))), 4)
    return out


def table(results: dict[str, dict]) -> str:
    def f(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    rows = ["| direction | lines | behind at line starts p50 / p95 / max (≤ 3.0 / ≤ 5 s) | EndOffset (≤ 3 s) | "
            "StartOffset | ATD | trend (≤ +0.1 s/min) | words spoken (≥ 95%) | condensed / dropped | "
            "read-back CER vs said / vs captions (≤ 0.10) |", "|" + "---|" * 10]
    for direction, r in results.items():
        rows.append(f"| {direction} | {r['lines']} | {f(r['line_start_p50_s'], '.2f')} / {f(r['line_start_p95_s'], '.2f')}"
                    f" / {f(r['line_start_max_s'], '.2f')} s | {f(r['end_offset_s'], '.2f')} s | "
                    f"{f(r['start_offset_s'], '.2f')} s | {f(r['atd_s'], '.2f')} s | {f(r['slope_s_per_min'], '+.2f')} | "
                    f"{f(None if r['words_spoken_share'] is None else r['words_spoken_share'] * 100, '.1f')}% "
                    f"({r['words_spoken']} of {r['words_given']}) | {r['condensed']} / {r['dropped']} | "
                    f"{f(r.get('cer_vs_said'), '.3f')} / {f(r.get('cer_vs_captions'), '.3f')} |")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feed", type=Path, required=True, help="the English feed (WAV)")
    p.add_argument("--make-feed", action="store_true", help="write the benchmark feed to --feed first")
    p.add_argument("--language", nargs="+", default=["es", "pt"], help="target languages (default es pt)")
    p.add_argument("--out", type=Path, required=True, help="folder for the tracks, JSONL, stats and results")
    p.add_argument("--no-read-back", action="store_true", help="skip the Whisper read-back (CER)")
    p.add_argument("--score-only", action="store_true",
                   help="score the runs already in --out (their stats, JSONL, dubbed track and read-back) again")
    p.add_argument("dub_args", nargs="*", help="after --: more arguments for rtvoice dub")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.make_feed:
        make_feed(args.feed)
    results = {}
    # the source language, where the arguments for rtvoice dub name one (--language es): English otherwise
    source = next((b for a, b in zip(args.dub_args, args.dub_args[1:]) if a == "--language"), "en")
    for language in args.language:
        if args.score_only:
            stats, records, wav = read_run(args.out, language)
        else:
            stats, records, wav = run_dub(args.feed, language, args.out, args.dub_args)
        heard_file = args.out / f"heard_{language}.txt"
        if args.no_read_back:
            heard = None
        elif args.score_only and heard_file.is_file():
            heard = heard_file.read_text(encoding="utf-8")
        else:
            heard = read_back(wav, language)
            heard_file.write_text(heard, encoding="utf-8")
        results[f"{source}→{language}"] = figures(stats, records, heard)
        cost = clause_cost(records, source, language)
        if cost is not None:
            results[f"{source}→{language}"]["clauses"] = cost
            print(f"{source}→{language}: {cost['captions_cut']} of {cost['captions']} captions cut into clauses; their "
                  f"clauses' translations joined vs the whole caption's: chrF {cost['chrf_vs_whole']}", file=sys.stderr)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
