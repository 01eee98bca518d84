"""Whisper's own translate task as a translation backend: a final caption's audio decoded again, with
task=translate, by the multilingual model that recognised it, gives English text for any language.

It lives in rtvoice.pipeline, not rtvoice.mt, because it needs the recognizer (rtvoice.asr): rtvoice.mt
translates text and never imports recognition. It is a :class:`~rtvoice.mt.Translator` for the
registry's sake (pair, backend, quality, timings), but its input is audio (:meth:`translate_audio`);
text alone cannot be translated by it.

Guard: Whisper's translate task can loop (the issue saw it repeat itself on German). Each result goes
through the recognizer's own hallucination checks (repeated n-grams, gzip ratio, words per second, log-
probability), with the full 30 s window retried as for recognition; a result that still repeats itself,
runs on or is empty (a low log-probability alone is not a loop) is not shown: the line goes to the text
backend of the pair when there is one (``fallback``), else it is dropped. Both are counted (``loops``,
``fallback_lines``, ``dropped_lines``) and warned about once.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from rtvoice.asr.whisper import Transcript
from rtvoice.mt.base import LANGUAGE_NAMES, Pair, Translation, TranslationError, Translator

log = logging.getLogger("rtvoice.translate")

QUALITY = "speech translation (Whisper base, from the audio)"
# Source languages listed by `rtvoice languages` (Whisper knows ~100; these are the ones rtvoice names).
LISTED_SOURCES = tuple(code for code in LANGUAGE_NAMES if code != "en")


class WhisperTranslator(Translator):
    """source → English by Whisper's translate task on the final's audio (``CaptionEvent.audio``).

    Args:
        pair: X→en.
        recognizer: a loaded multilingual :class:`~rtvoice.asr.WhisperRecognizer` (shared with the
            captions; decodes are serialised by its lock).
        fallback: a text translator for the same pair, used for a line whose Whisper translation loops.
    """

    backend = "whisper"
    quality = QUALITY
    needs_audio = True

    def __init__(self, pair: Pair, recognizer, fallback: Translator | None = None):
        if pair.target != "en":
            raise TranslationError(f"Whisper's translate task translates into English only, not {pair.target}")
        if not recognizer.multilingual:
            raise TranslationError("Whisper's translate task needs a multilingual model "
                                   f"({recognizer.model_name} is English-only)")
        super().__init__(pair)
        self.recognizer = recognizer
        self.fallback = fallback
        self.loops = 0
        self.fallback_lines = 0
        self.dropped_lines = 0
        self.first_loop: str | None = None
        # A loop is what repeats or runs on; a low average log-probability alone is not one (German and
        # Chinese translations of clean speech score below Whisper's -1.0 and read correctly).
        self.loop_checks = dataclasses.replace(recognizer.config.checks, min_avg_logprob=float("-inf"))

    def translate_audio(self, audio: np.ndarray, text: str) -> Translation | None:
        """English for one final: `audio` its segment (16 kHz float32, ≤ 30 s), `text` its caption (for the
        fallback). None when the result looped and there is no fallback (the line is dropped)."""
        t0 = time.perf_counter()
        english, loop, _ = self.decode(audio, fallback=False)
        if loop:
            # Only a real loop earns the retry on the full 30 s window: the recognizer's own checks would also
            # retry every line under -1.0 log-probability (most German and Chinese ones), holding recognition.
            english, loop, _ = self.decode(audio, fallback=True)
        if loop or not english:
            self.loops += 1
            why = ", ".join(loop) or "no text"
            if self.first_loop is None:
                self.first_loop = why
                log.warning("Whisper translate %s: a result failed the loop checks (%s); %s", self.pair, why,
                            "the text backend translates such lines" if self.fallback else "such lines are dropped")
            if self.fallback is None:
                self.dropped_lines += 1
                return None
            self.fallback_lines += 1
            fallen_back = self.fallback.translate(text)
            # the line's time includes the Whisper decodes it tried first
            return Translation(text, fallen_back.text, (time.perf_counter() - t0) * 1e3)
        ms = (time.perf_counter() - t0) * 1e3
        with self._timings_lock:
            self._timings.append(ms)
        return Translation(text, english, ms)

    def decode(self, audio: np.ndarray, fallback: bool) -> tuple[str, list[str], Transcript]:
        """(English text, the loop checks' problems, the recognizer's result) of one translate decode of
        `audio` (16 kHz float32); `fallback`: the recognizer's 30 s window fallback."""
        result = self.recognizer.transcribe(audio, language=self.source, task="translate", word_timestamps=False,
                                            fallback=fallback)
        english = " ".join(result.text.split())
        truncated = any(p.startswith("no end of text") for p in result.problems)
        return english, self.loop_checks.problems(english, result.avg_logprob, result.audio_seconds, truncated), result

    def _translate(self, line: str) -> str:
        raise TranslationError("Whisper's translate task translates speech: it needs the caption's audio")

    def warm_up(self) -> None:
        """The recognizer is already loaded (it made the captions)."""

    def stats(self) -> dict:
        return {**super().stats(), "loops": self.loops, "fallback_lines": self.fallback_lines,
                "dropped_lines": self.dropped_lines}

    def close(self) -> None:
        if self.fallback is not None:
            self.fallback.close()


def whisper_pairs() -> list:
    """The X→en pairs `rtvoice languages` lists for Whisper's translate task, and whether the packaged
    multilingual model is installed: [(Pair, installed, install line)]."""
    from rtvoice.asr.whisper import MULTILINGUAL_MODEL
    from rtvoice.errors import ModelError
    from rtvoice.models import packaged_model

    try:
        model = packaged_model(MULTILINGUAL_MODEL)
        parts = model.manifest.extra.get("parts", [])
        import importlib.util

        missing = [p for p in parts if importlib.util.find_spec(p["module"]) is None]
        ok, install = not missing, " ".join(f"pip install {p['package']}=={p['package_version']}" for p in missing)
    except ModelError as error:
        ok, install = False, str(error)
    return [(Pair(code, "en"), ok, install) for code in LISTED_SOURCES]
