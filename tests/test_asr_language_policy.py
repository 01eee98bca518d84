"""Language settling alone (rtvoice.asr.language.StreamLanguage): which language each decode is made in, and
how finals settle and lock it (test_language_detection.py streams real multilingual speech)."""

from __future__ import annotations

from asr_parts_support import transcript

from rtvoice.asr.config import StreamingStats
from rtvoice.asr.language import StreamLanguage
from rtvoice.asr.whisper_config import AUTO

SR = 16000


def language(lock: int = 0, detects: bool = True) -> StreamLanguage:
    return StreamLanguage(detects, min_detect_audio_s=1.0, language_lock=lock, min_language_probability=0.5,
                          stats=StreamingStats())


def final(code: str, probability: float):
    return transcript(" hola", language=code, language_probability=probability)


def test_without_detection_every_decode_is_in_the_configured_language():
    stream = language(detects=False)
    assert stream.for_decode(5 * SR, final=True) == (None, None)
    stream.settle(final("es", 0.9))
    assert stream.language is None and not stream.unsettled and stream.fields(final("es", 0.9)) == {}


def test_the_first_final_settles_the_stream_and_later_finals_detect_on_enough_audio():
    stream = language()
    assert stream.unsettled and stream.for_decode(3 * SR, final=False) == (AUTO, None)
    stream.settle(final("es", 0.9))
    assert not stream.unsettled
    assert stream.for_decode(3 * SR, final=False) == ("es", None)  # partials: the stream's language
    assert stream.for_decode(SR - 1, final=True) == ("es", None)  # too short to detect on
    assert stream.for_decode(SR, final=True) == (AUTO, "es")
    stream.settle(final("pt", 0.4))  # an unsure final in another language still becomes the stream's
    assert stream.language == "pt" and stream.stats.language_changes == 1
    assert stream.stats.languages == {"es": 1, "pt": 1}
    assert stream.fields(final("pt", 0.4)) == {"language": "pt", "language_probability": 0.4}
    stream.settle(transcript("", language="en", language_probability=0.9))  # an empty final settles nothing
    assert stream.language == "pt"


def test_n_sure_finals_in_a_row_lock_the_stream():
    stream = language(lock=2)
    stream.settle(final("es", 0.9))
    stream.settle(final("es", 0.3))  # unsure: breaks the run
    stream.settle(final("es", 0.9))
    assert stream.stats.language_locked is None
    stream.settle(final("es", 0.8))
    assert stream.stats.language_locked == "es"
    assert stream.for_decode(10 * SR, final=True) == ("es", None)  # locked: never detected again
    stream.settle(final("pt", 0.99))
    assert stream.stats.language_locked == "es" and stream.stats.languages == {"es": 4, "pt": 1}
