"""``rtvoice translate`` (text lines, one line in, one line out, same order) and ``rtvoice languages``
(what this install can translate, pair by pair).

    rtvoice translate --from en --to pt notes.txt
    printf 'Good morning.\\n' | rtvoice translate --from en --to es -
    rtvoice languages
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("translate", help="translate text lines (one line in, one line out, same order)",
                              description="Translate text line by line; a blank line stays blank. Each line is "
                                          "written and flushed as soon as it is translated, so it works in a pipe.")
    p.add_argument("input", nargs="?", default="-", help="UTF-8 text file, or - for standard input (default)")
    p.add_argument("--from", dest="source", required=True, metavar="LANG", help="source language (ISO 639-1, e.g. en)")
    p.add_argument("--to", dest="target", required=True, metavar="LANG", help="target language (e.g. pt)")
    p.add_argument("--timing", action="store_true", help="at the end, the latency per line on stderr")
    p.set_defaults(func=run_translate)

    q = subparsers.add_parser("languages", help="translation pairs this install can do, with backend and quality",
                              description="Every translation pair rtvoice has a backend for: its backend, quality "
                                          "class, and whether it is installed here (else what to install).")
    q.set_defaults(func=run_languages)


def run_translate(args: argparse.Namespace) -> int:
    from rtvoice.errors import RtvoiceError
    from rtvoice.mt import open_translator

    translator = open_translator(args.source, args.target)
    try:
        translator.warm_up()  # dictionaries / model loaded before the first line, so --timing is per line
        if args.input == "-":
            stream = sys.stdin
        else:
            try:
                stream = open(args.input, encoding="utf-8")
            except OSError as error:
                raise RtvoiceError(f"cannot read {args.input}: {error.strerror or error}") from error
        try:
            for number, line in enumerate(stream, 1):
                sys.stdout.write(translator.translate_text(line) + "\n")
                sys.stdout.flush()
        except UnicodeDecodeError as error:
            raise RtvoiceError(f"{args.input}: line {number} is not UTF-8 text; the lines before it are "
                               "translated") from error
        finally:
            if stream is not sys.stdin:
                stream.close()
        if args.timing:
            s = translator.stats()
            ms = s["ms"]
            print(f"rtvoice translate: {translator.describe()}: {s['lines']} line(s), p50 "
                  f"{ms['p50'] or 0:.1f} ms, p95 {ms['p95'] or 0:.1f} ms per line", file=sys.stderr)
    finally:
        translator.close()
    return 0


def run_languages(args: argparse.Namespace) -> int:
    from rtvoice.mt import known_pairs, language_name

    rows = [("pair", "languages", "backend", "quality", "installed")]
    for info in known_pairs():
        rows.append((f"{info.pair.source}-{info.pair.target}",
                     f"{language_name(info.pair.source)} → {language_name(info.pair.target)}", info.backend,
                     info.quality, "yes" if info.installed else f"no: {info.install}"))
    from rtvoice.pipeline.whisper_translation import QUALITY, whisper_pairs

    for pair, installed, install in whisper_pairs():  # speech only: captions/dub, not `rtvoice translate`
        rows.append((f"{pair.source}-{pair.target}", f"{language_name(pair.source)} → {language_name(pair.target)}",
                     "whisper", QUALITY, "yes (speech only: caption/dub/bench)" if installed else f"no: {install}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0
