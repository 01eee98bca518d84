"""The voice engine: order, timings, bad input, bounded memory, cancellation."""

from __future__ import annotations

import logging
import threading
import tracemalloc

import numpy as np
import pytest
from tts_helpers import LONG, SENTENCES, SHORT, deterministic, voice

from rtvoice.errors import RtvoiceError
from rtvoice.tts import CallbackSink, SynthesisOptions, TtsEngine, synthesize


class Collect:
    """A sink keeping (utterance id, offset, samples) of every chunk."""

    def __init__(self):
        self.chunks = []

    def __call__(self, utt, samples, offset):
        self.chunks.append((utt.id, offset, samples.copy()))

    def audio(self, utt_id):
        parts = [s for u, _, s in self.chunks if u == utt_id]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def test_lines_are_spoken_in_order_with_contiguous_offsets():
    got = Collect()
    with TtsEngine(voice(), deterministic(), [CallbackSink(got)]) as engine:
        utts = [engine.speak(t) for t in SENTENCES[:3]]
        assert engine.wait_idle(60)
    assert [u for u, _, _ in got.chunks] == sorted(u for u, _, _ in got.chunks)
    for utt, text in zip(utts, SENTENCES[:3]):
        offsets = [o for u, o, _ in got.chunks if u == utt.id]
        sizes = [len(s) for u, _, s in got.chunks if u == utt.id]
        assert offsets == list(np.cumsum([0] + sizes[:-1]))
        assert utt.samples == sum(sizes) and utt.done and utt.error is None
        np.testing.assert_allclose(got.audio(utt.id), synthesize(voice(), text, deterministic()), atol=1e-4)
        assert 0 < utt.first_audio_s < utt.t_done - utt.t_submitted


def test_stats_report_first_audio_rtf_and_underruns():
    engine = TtsEngine(voice(), SynthesisOptions(), [CallbackSink(lambda *a: None)])
    engine.speak(SHORT)
    engine.speak("")
    engine.close()
    s = engine.stats()
    assert s["utterances"] == 2 and s["spoken"] == 1
    assert s["tts_first_audio_s"]["n"] == 1 and 0 < s["tts_first_audio_s"]["p50"] <= s["tts_first_audio_s"]["p95"]
    assert 0 < s["rtf"] < 5 and s["underruns"] == 0 and s["device"] == "cpu"
    assert s["audio_s"] == pytest.approx(sum(u.samples for u in engine.utterances) / 22050)


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n", "...", " , ; "])
def test_empty_text_plays_nothing_and_does_not_fail(text, caplog):
    got = Collect()
    with caplog.at_level(logging.WARNING, logger="rtvoice.tts"):
        with TtsEngine(voice(), sinks=[CallbackSink(got)]) as engine:
            utt = engine.speak(text)
            assert utt.wait(30)
    assert got.chunks == [] and utt.samples == 0 and utt.first_audio_s is None and utt.error is None
    assert not caplog.records


def test_unsayable_characters_are_skipped_with_one_warning(caplog):
    got = Collect()
    text = "Hello 😀 world 🎉🎉, 你好 and Привет 🙂 again."
    with caplog.at_level(logging.WARNING, logger="rtvoice.tts"):
        with TtsEngine(voice(), deterministic(), [CallbackSink(got)]) as engine:
            utt = engine.speak(text)
            engine.speak("😀😀😀")  # nothing sayable at all: silence and one warning
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]
    assert "😀" in warnings[0].getMessage() and "你" in warnings[0].getMessage()
    assert utt.report.skipped_count == len("😀🎉🎉你好Привет🙂")
    clean = synthesize(voice(), "Hello world, and again.", deterministic())
    assert len(got.audio(utt.id)) == len(clean)  # spoken as if the characters were not there
    assert len(got.audio(utt.id + 1)) == 0


def test_cancel_stops_the_current_line_and_drops_the_queue():
    got = Collect()
    started = threading.Event()

    def sink(utt, samples, offset):
        got(utt, samples, offset)
        started.set()

    engine = TtsEngine(voice(), SynthesisOptions(), [CallbackSink(sink)])
    first = engine.speak(LONG)
    queued = [engine.speak(t) for t in SENTENCES]
    assert started.wait(30)
    engine.cancel()
    engine.close()
    assert first.cancelled and first.done
    full = sum(len(c.samples) for c in engine.synthesizer.stream(LONG))
    assert first.samples < full / 2
    assert all(u.done and u.samples == 0 for u in queued[1:])


def test_closed_engine_refuses_text():
    engine = TtsEngine(voice(), sinks=[CallbackSink(lambda *a: None)])
    engine.close()
    with pytest.raises(RtvoiceError, match="closed"):
        engine.speak("hello")


def test_sink_failure_reaches_the_caller():
    def broken(utt, samples, offset):
        raise RtvoiceError("disk full")

    engine = TtsEngine(voice(), sinks=[CallbackSink(broken)])
    utt = engine.speak(SHORT)
    with pytest.raises(RtvoiceError, match="disk full"):
        engine.wait_idle(30)
    assert utt.done and isinstance(utt.error, RtvoiceError)
    engine.close()


@pytest.mark.slow
def test_ten_thousand_characters_stream_with_bounded_memory():
    base = " ".join(SENTENCES + [LONG]) + " "
    text = (base * (10000 // len(base) + 1))[:10000]
    total = [0]
    engine = TtsEngine(voice(), SynthesisOptions(speed=4.0), [CallbackSink(lambda u, s, o: total.__setitem__(0, total[0] + len(s)))])
    tracemalloc.start()
    try:
        engine.speak(text)
        engine.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    audio_bytes = total[0] * 4
    assert audio_bytes > 15e6  # minutes of audio went through ...
    assert peak < 6e6  # ... while Python-side memory stayed bounded (chunks, one piece's latents)
