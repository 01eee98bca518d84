"""The real tiny.en tokenizer (no model loaded) and small Transcripts, for the streaming policy's part tests."""

from __future__ import annotations

import functools

from rtvoice.asr.tokenizer import WhisperTokenizer
from rtvoice.asr.transcript import Transcript, Word
from rtvoice.asr.whisper_config import DEFAULT_MODEL
from rtvoice.models import packaged_model


@functools.lru_cache(maxsize=None)
def tokenizer() -> WhisperTokenizer:
    return WhisperTokenizer(packaged_model(DEFAULT_MODEL).directory / "tokenizer.json", multilingual=False)


def timed_words(text: str, start: float, seconds_per_word: float) -> list[Word]:
    """The words of `text` one after another from `start` (s), each `seconds_per_word` long."""
    pieces = tokenizer().split_words(tokenizer().encode(text))
    return [Word(p.text, start + i * seconds_per_word, start + (i + 1) * seconds_per_word, 0.9)
            for i, p in enumerate(pieces)]


def transcript(text: str, words: list[Word] = (), fell_back: bool = False, problems: list[str] = (),
               language: str | None = None, language_probability: float | None = None) -> Transcript:
    tokens = tokenizer().encode(text)
    return Transcript(tokens=tokens, text=text, words=list(words), avg_logprob=-0.2, no_speech_prob=0.01,
                      audio_seconds=words[-1].end if words else 1.0, window_frames=1000, fell_back=fell_back,
                      problems=list(problems), language=language, language_probability=language_probability)
