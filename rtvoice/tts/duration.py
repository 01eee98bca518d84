"""How long a voice will take to say a text, before it says it: phonemes × the voice's seconds per phoneme.

The rate is the voice's own, at speed 1 and with the silence around its lines trimmed (what a listener
hears). It starts from a prior (``PRIOR_S_PER_PHONEME``, measured on rtvoice's voices) and follows the lines
the voice actually speaks: each spoken line adds its (phonemes, seconds × speed) to a running ratio in which
older lines count less (weight ``1 - forget`` per line), so a voice whose rate differs from the prior (a
slower speaker style, another language) is learnt within a few lines. A voice's speed control (Kokoro
``speed``, Piper ``length_scale``) scales its durations; ``predict`` divides by the speed.
"""

from __future__ import annotations

import threading
import time

# Seconds per phoneme at speed 1, measured on three Harvard sentences and their Spanish translations (ends
# trimmed, the pause between pieces not: Kokoro jm_kumo es 0.089-0.101, Piper joe en 0.054-0.057); a middle
# value, replaced at start by DurationModel.calibrate when a paced voice is set up.
PRIOR_S_PER_PHONEME = 0.08
_SILENT = frozenset(" ,.;:!?¡¿-—…\"'()")
# One sentence per language to time a voice on at start (Harvard sentences and their translations).
CALIBRATION_TEXT = {"en": "The birch canoe slid on the smooth planks.",
                    "es": "El niño casi lastimó al perro pequeño.",
                    "pt": "A criança quase machucou o cachorro pequeno.",
                    "fr": "L'enfant a presque blessé le petit chien.",
                    "it": "Il bambino ha quasi ferito il cagnolino."}


class DurationModel:
    """Predicts a voice's spoken seconds for a text (module docstring).

    Args:
        voice: anything with ``phonemize(text) -> list[list[str]]`` (Piper and Kokoro voices).
        prior_s_per_phoneme: the rate before any line was spoken.
        prior_weight: how many phonemes the prior counts for (how fast measured lines take over).
        forget: the share of the past that each new line's weight takes off (0: a plain running ratio).
    """

    def __init__(self, voice, prior_s_per_phoneme: float = PRIOR_S_PER_PHONEME, prior_weight: float = 60.0,
                 forget: float = 0.1) -> None:
        if not prior_s_per_phoneme > 0 or not prior_weight > 0 or not 0 <= forget < 1:
            raise ValueError("the prior rate and weight must be > 0 and forget within [0, 1)")
        self.voice = voice
        self.forget = forget
        self._phonemes = prior_weight
        self._seconds = prior_weight * prior_s_per_phoneme
        self.lines_seen = 0
        self._lock = threading.Lock()

    def phonemes(self, text: str) -> int:
        """Sounding phonemes of ``text`` (punctuation and spaces left out)."""
        return sum(1 for sentence in self.voice.phonemize(text) for p in sentence if p not in _SILENT)

    @property
    def s_per_phoneme(self) -> float:
        """The current rate (s per phoneme at speed 1)."""
        with self._lock:
            return self._seconds / self._phonemes

    def predict(self, text: str | None = None, speed: float = 1.0, phonemes: int | None = None) -> float:
        """Seconds the voice will take to say ``text`` (or ``phonemes`` phonemes) at ``speed``."""
        count = self.phonemes(text) if phonemes is None else phonemes
        return count * self.s_per_phoneme / speed

    def calibrate(self, synthesizer, language: str | None = None) -> float:
        """Time the voice on one sentence of ``language`` (CALIBRATION_TEXT; English when it has none): its
        trimmed duration replaces the prior. Returns the voice's real-time factor on it (synthesis seconds per
        second of audio)."""
        from rtvoice.tts.fitting import trim_piece

        text = CALIBRATION_TEXT.get(language or "en", CALIBRATION_TEXT["en"])
        rate = self.voice.sample_rate
        t0 = time.perf_counter()
        samples = sum(len(trim_piece(c.samples, rate, c.first_of_piece, c.last_of_piece))
                      for c in synthesizer.stream(text))
        compute = time.perf_counter() - t0
        seconds, phonemes = samples / rate, self.phonemes(text)
        if seconds <= 0 or phonemes <= 0:
            return 1.0
        with self._lock:
            self._phonemes, self._seconds = float(phonemes), seconds * synthesizer.options.speed
        return compute / seconds

    def observe(self, phonemes: int, seconds: float, speed: float = 1.0) -> None:
        """A line of ``phonemes`` phonemes was spoken in ``seconds`` (trimmed) at ``speed``."""
        if phonemes <= 0 or seconds <= 0:
            return
        with self._lock:
            keep = 1.0 - self.forget
            self._phonemes = self._phonemes * keep + phonemes
            self._seconds = self._seconds * keep + seconds * speed
            self.lines_seen += 1
