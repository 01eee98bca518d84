"""``rtvoice bench``: latency of the whole chain on recorded speech, with budgets for CI.

    rtvoice bench --dataset ../shared/data/speech --clock virtual --json bench.json --plot bench.png
    rtvoice bench --input talk.wav --budget caption_final_p95=1.0s,tts_first_audio_p50=150ms
    rtvoice bench --dataset DIR --compare main.json --max-regression 10%
    rtvoice bench --input talk.wav --audio-device pulse --budget callback_p99=0.5ms,callback_max=2ms

Exit status: 0 when every budget is met (and no figure regressed more than --max-regression),
1 when one is not (the offending figures are listed), 2 for bad arguments or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rtvoice.metrics.clock import CLOCKS


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="latency of the whole chain on recorded speech, with budgets for CI",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, action="append", default=[], metavar="FILE",
                   help="an audio file (repeatable)")
    p.add_argument("--dataset", type=Path, metavar="DIR",
                   help="a folder with manifest.tsv (id, wav, transcript) like ../shared/data/speech")
    p.add_argument("--clock", choices=CLOCKS, default="real",
                   help="real: paced in real time; virtual: as fast as compute allows, latency accounted as if "
                        "live; compute-free: the same counting no compute (the streaming policy's own latency, "
                        "the same on any machine) (default: real)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the report (schema rtvoice-bench, version 1)")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="latency distributions and one utterance's timeline")
    p.add_argument("--budget", default="", metavar="NAME=VALUE,...",
                   help="e.g. caption_final_p95=1.0s,tts_first_audio_p50=150ms,wer=10%%")
    p.add_argument("--budget-file", type=Path, metavar="FILE.toml", help="budgets from a [budgets] table")
    p.add_argument("--compare", type=Path, metavar="OLD.json", help="print the change of every figure from OLD")
    p.add_argument("--max-regression", default=None, metavar="PCT",
                   help="with --compare: fail when a figure got worse by more than this (e.g. 10%%)")
    p.add_argument("--asr-model", type=Path, metavar="DIR", help="CTranslate2 Whisper model (default tiny.en)")
    p.add_argument("--language", default="en", help="language code (any but en: the packaged multilingual base), "
                                                     "or auto (detected per final, docs/translation.md)")
    from rtvoice.commands.caption import add_context_argument, add_mt_argument

    add_context_argument(p)
    add_mt_argument(p)
    p.add_argument("--voice", type=Path, help="Piper voice FILE.onnx (default en_US joe medium)")
    p.add_argument("--translate-to", metavar="LANG", help="translate each final into LANG and dub the translation "
                                                           "(Kokoro voice for es/pt); adds translation_* figures")
    p.add_argument("--max-voice-lag", type=float, default=3.0, metavar="S",
                   help="real clock: pace the voice to start each line within S s of its source, as `rtvoice dub` "
                        "does (0: not paced) (default 3)")
    p.add_argument("--audio-device", metavar="NAME|INDEX",
                   help="also play the voice on this device and capture from it, timing both audio callbacks "
                        "under full load (callback_p99=0.5ms,callback_max=2ms budgets)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtvoice.pipeline.bench import load_inputs, load_report, plot_report, render_table, run_bench
    from rtvoice.metrics.budgets import (check_budgets, compare_reports, load_budget_file, parse_budgets, parse_regression,
                                 regressions)

    # Arguments are checked before minutes of audio are run.
    budgets = parse_budgets(args.budget)
    if args.budget_file is not None:
        budgets += load_budget_file(args.budget_file)
    old = load_report(args.compare) if args.compare is not None else None
    max_regression = parse_regression(args.max_regression) if args.max_regression is not None else None
    inputs = load_inputs(args.input, args.dataset)
    if not args.max_voice_lag >= 0:
        from rtvoice.errors import RtvoiceError

        raise RtvoiceError(f"--max-voice-lag must be >= 0 s (0: not paced), got {args.max_voice_lag:g}")

    whisper_config = None
    if args.asr_model is not None or args.language != "en":
        from rtvoice.asr import WhisperConfig

        whisper_config = WhisperConfig(model_dir=args.asr_model, language=args.language)
    from rtvoice.asr import StreamingConfig

    report = run_bench(inputs, args.clock, progress=lambda line: print(line, file=sys.stderr),
                       whisper_config=whisper_config, voice_path=args.voice, audio_device=args.audio_device,
                       streaming_config=StreamingConfig(context=args.context), translate_to=args.translate_to,
                       mt=args.mt, max_voice_lag_s=args.max_voice_lag or None)
    print(render_table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.plot is not None:
        plot_report(report, args.plot)

    failed = False
    figures = report["figures"]
    if old is not None:
        changes = compare_reports(old["figures"], figures)
        print("\nchange from", args.compare)
        for c in changes:
            print(f"  {c.figure:<34} {c.old:>10.4g} -> {c.new:>10.4g}  ({c.relative * 100:+.1f}%)")
        if max_regression is not None:
            for c in regressions(changes, max_regression):
                print(f"REGRESSION: {c.figure} {c.old:.4g} -> {c.new:.4g} ({c.relative * 100:+.1f}%, "
                      f"limit {max_regression * 100:.0f}%)")
                failed = True
    results = check_budgets(figures, budgets)
    if results:
        print("\nbudgets:")
        for r in results:
            print("  " + r.describe())
        failed |= any(not r.met for r in results)
    return 1 if failed else 0
