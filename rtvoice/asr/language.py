"""Language settling (WhisperConfig(language="auto"), docs/translation.md "Which language is spoken"): the
stream has a language, that of its last final. Partials decode in it (before the first final each partial
detects its own, and nothing is committed until a language is settled). Each final detects the language on
its whole segment (at least ``min_detect_audio_s``; the same encoder pass, one decoder step): an unsure
detection (below ``WhisperConfig.min_language_probability``) keeps the stream's language; a sure one in
another language decodes the final again from scratch in it (the coordinator drops the committed words) and
becomes the stream's language. With ``language_lock`` N, N finals in a row detected (surely) in one language
lock the stream to it.
"""

from __future__ import annotations

from rtvoice.asr.config import StreamingStats
from rtvoice.asr.transcript import Transcript
from rtvoice.asr.whisper_config import AUTO
from rtvoice.asr.window import SAMPLE_RATE


class StreamLanguage:
    """The language a stream's decodes are made in, settled by its finals.

    Args:
        detects: the recognizer detects the language (else every method is a no-op: the configured one).
        min_detect_audio_s: a final detects the language only on at least this much audio (s).
        language_lock: N finals in a row surely detected in one language lock the stream to it (0: never).
        min_language_probability: a detection below this is unsure (0..1).
        stats: counts finals per language, changes, and the language locked to (``language_locked``).
    """

    def __init__(self, detects: bool, min_detect_audio_s: float, language_lock: int,
                 min_language_probability: float, stats: StreamingStats):
        self.detects = detects
        self.min_detect_audio_s = min_detect_audio_s
        self.language_lock = language_lock
        self.min_language_probability = min_language_probability
        self.stats = stats
        self.language: str | None = None  # the language of the last final
        self._agreeing = 0  # finals in a row surely detected in the stream's language

    @property
    def unsettled(self) -> bool:
        """The language is detected and no final has settled it yet: nothing may be committed."""
        return self.detects and self.language is None

    def for_decode(self, segment_samples: int, final: bool) -> tuple[str | None, str | None]:
        """(language, usual language) for a decode of `segment_samples` of the open segment: None (the
        configured one), the locked or stream's language, or AUTO (with the usual one for a final)."""
        if not self.detects:
            return None, None
        if self.stats.language_locked is not None:
            return self.stats.language_locked, None
        if self.language is None:
            return AUTO, None
        if final and segment_samples >= self.min_detect_audio_s * SAMPLE_RATE:
            return AUTO, self.language
        return self.language, None

    def fields(self, result: Transcript) -> dict:
        """A caption's language fields (none when the language is not detected)."""
        if not self.detects:
            return {}
        return {"language": result.language, "language_probability": result.language_probability}

    def settle(self, result: Transcript) -> None:
        """A final was decoded: its language becomes the stream's; N sure ones in a row lock it."""
        if not self.detects or not result.tokens or result.language is None:
            return
        self.stats.languages[result.language] = self.stats.languages.get(result.language, 0) + 1
        if self.stats.language_locked is not None:
            return
        sure = (result.language_probability is not None
                and result.language_probability >= self.min_language_probability)
        if self.language is not None and result.language != self.language:
            self.stats.language_changes += 1
        if sure:
            self._agreeing = self._agreeing + 1 if result.language == self.language else 1
        else:
            self._agreeing = 0  # "in a row": an unsure final breaks the run
        self.language = result.language
        if self.language_lock and self._agreeing >= self.language_lock:
            self.stats.language_locked = result.language
