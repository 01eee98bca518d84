"""Captions of a whole recording (dev_long, 53 s, 11 utterances): accuracy next to time, in the same run.

- rtvoice: the caption pipeline (file source read as fast as possible → front end VAD/endpointer →
  streaming recognizer), tiny.en int8, 2 threads; WER of its finals;
- peer:faster-whisper-long-form: the same file decoded offline, long-form, by the same CTranslate2 model
  (faster-whisper's ``transcribe``, greedy, condition_on_previous_text), the accuracy streaming is
  measured against; ``wer_vs_rtvoice`` = its WER / rtvoice's (the issue's goal: rtvoice ≤ 1.10 × offline,
  i.e. this ≥ 0.91).

One round each (a minute of audio; the times are those of one pass, the notes carry the WERs).
"""

from __future__ import annotations

import jiwer
import pytest

from rtvoice.asr import StreamingConfig, WhisperConfig, WhisperRecognizer
from rtvoice.metrics.text import normalize_english


@pytest.fixture(scope="module")
def recognizer():
    return WhisperRecognizer(WhisperConfig(device="cpu", threads=2))


@pytest.fixture(scope="module")
def measured():
    return {}


def _wer(reference: str, text: str) -> float:
    return round(float(jiwer.wer(normalize_english(reference), normalize_english(text))), 4)


@pytest.mark.benchmark(group="captions-dev_long-53s")
def test_streaming_captions(benchmark, mark, recognizer, dev_long, measured):
    from rtvoice.audio.sources import FileSource
    from rtvoice.pipeline.engine import CaptionCollector, CaptionPipeline

    def run():
        collected = CaptionCollector()
        CaptionPipeline(FileSource(dev_long.path), recognizer, [collected], StreamingConfig()).run()
        return " ".join(e.text for e in collected.finals)

    text = benchmark.pedantic(run, rounds=1, iterations=1)
    measured["rtvoice"] = _wer(dev_long.text, text)
    mark("rtvoice", audio_s=round(dev_long.duration_s, 1), wer=measured["rtvoice"],
         context=StreamingConfig().context)
    assert measured["rtvoice"] <= 0.1, text


@pytest.mark.benchmark(group="captions-dev_long-53s")
def test_offline_long_form_peer(benchmark, mark, recognizer, dev_long, measured):
    pytest.importorskip("faster_whisper")
    from rtvoice.pipeline.bench import offline_long_form

    texts = benchmark.pedantic(lambda: offline_long_form(recognizer, [dev_long.path])[0], rounds=1, iterations=1)
    wer = _wer(dev_long.text, texts[0])
    extra = {"wer": wer}
    if measured.get("rtvoice"):
        extra["wer_vs_rtvoice"] = round(wer / measured["rtvoice"], 3)
    mark("peer:faster-whisper-long-form", audio_s=round(dev_long.duration_s, 1), **extra)
    assert wer <= 0.15, texts[0]
