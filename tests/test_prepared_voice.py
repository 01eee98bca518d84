"""A Kokoro line's first piece synthesised ahead (rtvoice.tts.prepared, rtvoice.pipeline.speculation): a line
whose first piece was prepared starts with exactly that audio and with no synthesis before its first
sample; a line that begins otherwise, or at another speed, is synthesised as usual and the prepared piece is
never heard; the voice prepares nothing while it has a line to speak."""

from __future__ import annotations

import numpy as np
import pytest

from rtvoice.mt import open_translator

ENGLISH = "The child almost hurt the small dog."


@pytest.fixture(scope="module")
def portuguese():
    from rtvoice.tts.kokoro import KokoroVoice

    voice = KokoroVoice("pt")
    with open_translator("en", "pt") as translator:
        line = translator.translate_text(ENGLISH)
        partial = translator.translate_text("The child almost hurt the small")
    return voice, line, partial


def _first_chunk(synthesizer, text, speedup=1.0):
    from rtvoice.tts.synthesis import SynthesisReport

    report = SynthesisReport()
    chunk = next(iter(synthesizer.stream(text, report, speedup=speedup)))
    return chunk, report


def test_a_line_starts_with_its_prepared_first_piece(portuguese):
    """The partial's translation ("A criança quase machucou o pequeno") begins as the final's does, so its
    prepared first piece is the final line's: spoken as it was synthesised, with no synthesis before it.
    Kokoro is deterministic on the CPU, so the piece is also the one the line would have had unprepared."""
    voice, line, partial = portuguese
    synthesizer = voice.synthesizer()
    plain, plain_report = _first_chunk(synthesizer, line)
    assert not plain_report.prepared_first_piece and plain.compute_s > 0.05
    assert synthesizer.prepare_first_piece(partial)
    assert not synthesizer.prepare_first_piece(partial)  # already prepared: no second synthesis
    chunk, report = _first_chunk(synthesizer, line)
    assert report.prepared_first_piece and chunk.compute_s < 0.05
    np.testing.assert_array_equal(chunk.samples, plain.samples)
    assert synthesizer.prepared.stats()["used"] == 1 and synthesizer.prepared.stats()["prepared"] == 1
    again, report = _first_chunk(synthesizer, line)  # taken once: the next line with it synthesises anew
    assert not report.prepared_first_piece


def test_a_line_that_begins_otherwise_is_synthesised_and_the_guess_dropped(portuguese):
    voice, line, _ = portuguese
    synthesizer = voice.synthesizer()
    with open_translator("en", "pt") as translator:
        other = translator.translate_text("Drop the two when you add the figures.")
    assert synthesizer.prepare_first_piece(other)
    plain, _ = _first_chunk(voice.synthesizer(), line)
    chunk, report = _first_chunk(synthesizer, line)
    assert not report.prepared_first_piece
    np.testing.assert_array_equal(chunk.samples, plain.samples)  # the guess is never heard
    # another speed is another piece
    assert synthesizer.prepare_first_piece(line, speedup=1.0)
    _, report = _first_chunk(synthesizer, line, speedup=1.25)
    assert not report.prepared_first_piece
    assert synthesizer.prepare_first_piece(ENGLISH + " Once more.")  # a third guess pushes the oldest out, counted
    assert synthesizer.prepare_first_piece("Uma frase nova.")
    stats = synthesizer.prepared.stats()
    assert stats["prepared"] == 4 and stats["used"] == 0 and stats["unused"] >= 2 and stats["unused_compute_s"] > 0


def test_the_engine_prepares_only_while_idle(portuguese):
    from rtvoice.tts import CallbackSink, TtsEngine

    voice, line, partial = portuguese
    heard = []
    engine = TtsEngine(voice, sinks=[CallbackSink(lambda u, samples, offset: heard.append((u.id, offset)))])
    with engine:
        assert engine.can_prepare
        utterance = engine.speak(line)
        assert not engine.prepare_first_piece(partial)  # a line is being spoken: the CPU is its
        utterance.wait(60)
        assert engine.wait_idle(60) and engine.prepare_first_piece(partial)
        prepared = engine.speak(line)
        prepared.wait(60)
    assert prepared.report.prepared_first_piece and not utterance.report.prepared_first_piece
    stats = engine.stats()
    assert stats["prepared_first_pieces"]["used"] == 1
    assert [line["prepared_first_piece"] for line in stats["lines"]] == [False, True]
    assert stats["rtf"] > 0  # the synthesis done ahead counts as the voice's compute


def _event(kind: str, text: str, committed: str, segment: int = 0):
    from rtvoice.asr import CaptionEvent

    return CaptionEvent(kind=kind, segment=segment, text=text, committed=committed,
                        unstable=text[len(committed):].strip(), start=0.0, end=2.0)


@pytest.mark.parametrize("ahead", [True, False])
def test_the_translation_stage_prepares_a_line_from_its_partial(portuguese, ahead):
    """A partial caption is translated (not counted as a translated line) and its first piece prepared; the
    final that follows is translated as always and its line starts with that piece. With preparing off,
    partials are not translated at all."""
    import time

    from rtvoice.pipeline.dubbing import DubStage
    from rtvoice.pipeline.translation import TranslationStage, TranslatorRouter
    from rtvoice.tts import CallbackSink, TtsEngine

    voice = portuguese[0]
    engine = TtsEngine(voice, sinks=[CallbackSink(lambda u, samples, offset: None)])
    dub = DubStage(engine, prepare_ahead=ahead)
    stage = TranslationStage(TranslatorRouter.of(open_translator("en", "pt")), [], next_stage=dub)
    stage.attach(None)
    assert (stage.preparer is not None) == ahead
    stage.write(_event("partial", "The child almost hurt the small", "The child almost"))
    deadline = time.monotonic() + 60
    while ahead and stage.preparer.pieces_prepared == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    stage.write(_event("final", ENGLISH, ENGLISH))
    stage.finish(interrupted=False)
    stats = stage.stats()
    translation, tts = stats["translation"], stats["tts"]
    assert translation["translated_lines"] == 1 and translation["pairs"][0]["lines"] == 1
    assert tts["lines"][0]["prepared_first_piece"] == ahead
    if ahead:
        assert translation["partials_prepared_ahead"]["partials_translated"] == 1
        assert tts["prepared_first_pieces"]["used"] == 1
        assert any("started with a first piece prepared" in line for line in stage.report_lines())
    else:
        assert "partials_prepared_ahead" not in translation and tts["prepared_first_pieces"]["prepared"] == 0


def test_a_line_that_begins_otherwise_stops_the_guess_being_synthesised(portuguese):
    """A guess still being synthesised when a line with another first piece comes is stopped (ONNX Runtime's
    terminate flag), so that it does not take the CPU from the line; the line is synthesised as usual."""
    import threading
    import time

    voice, line, _ = portuguese
    synthesizer = voice.synthesizer()
    outcome = {}

    def guess():
        t0 = time.perf_counter()
        outcome["synthesised"] = synthesizer.prepare_first_piece("Uma frase que ninguém disse.")
        outcome["s"] = time.perf_counter() - t0

    worker = threading.Thread(target=guess)
    worker.start()
    deadline = time.monotonic() + 10
    while not synthesizer.prepared._pieces and time.monotonic() < deadline:  # the guess has been claimed
        time.sleep(0.001)
    chunk, report = _first_chunk(synthesizer, line)
    worker.join(60)
    assert not report.prepared_first_piece
    assert outcome["synthesised"] is False and synthesizer.prepared.stats()["stopped"] == 1, outcome
    plain, _ = _first_chunk(voice.synthesizer(), line)
    np.testing.assert_array_equal(chunk.samples, plain.samples)
