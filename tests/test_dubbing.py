"""DubStage: final captions become voice lines; a line that fails is reported and the chain goes on."""

from __future__ import annotations

import logging

from tts_helpers import voice

from rtvoice.asr.streaming import CaptionEvent
from rtvoice.pipeline.dubbing import DubStage
from rtvoice.audio.sources import FileSource
from rtvoice.tts import CallbackSink, SynthesisOptions, TtsEngine


def _final(segment: int, text: str, start: float) -> CaptionEvent:
    return CaptionEvent("final", segment, text, text, "", start, start + 1.0)


def test_only_finals_with_text_are_spoken(speech_recordings):
    heard = []
    stage = DubStage(TtsEngine(voice(), SynthesisOptions(), [CallbackSink(lambda u, s, o: heard.append(u.text))]))
    stage.attach(FileSource(speech_recordings[0].path))
    stage.write(CaptionEvent("partial", 0, "the child", "the", " child", 0.0, 0.5))
    stage.write(_final(0, "   ", 0.0))
    stage.write(_final(0, "The child almost hurt the small dog.", 0.0))
    stage.finish(interrupted=False)
    assert set(heard) == {"The child almost hurt the small dog."}
    assert stage.stats()["dub_lines"] == 1


def test_a_failed_line_is_reported_and_the_next_lines_are_spoken(speech_recordings, caplog):
    """The fault: the voice's output fails once (a sink that raises). The mock stands for a device or disk
    error that cannot be caused on demand here."""
    calls = {"n": 0}
    spoken = []

    def flaky_output(utterance, samples, offset):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("output device went away")
        spoken.append(utterance.text)

    stage = DubStage(TtsEngine(voice(), SynthesisOptions(), [CallbackSink(flaky_output)]))
    stage.attach(FileSource(speech_recordings[0].path))
    with caplog.at_level(logging.WARNING, logger="rtvoice.dub"):
        stage.write(_final(0, "First line fails.", 0.0))
        assert stage.lines[0][1].wait(30)
        stage.write(_final(1, "Second line is spoken.", 2.0))  # must not raise the first line's error
        stage.write(_final(2, "Third line too.", 4.0))
        stage.finish(interrupted=False)
    stats = stage.stats()
    assert stats["dub_lines"] == 3 and stats["dub_failed_lines"] == 1
    assert "Second line is spoken." in spoken and "Third line too." in spoken
    assert any("a line failed" in r.message for r in caplog.records)
    assert any("failed to synthesise" in line for line in stage.report_lines())
