"""The one interface every translation backend implements: a line of text in one language in, the same
line in another language out, with its timing.

A backend subclasses :class:`Translator` and implements ``_translate(line)`` for one non-empty line
without line breaks (and ``close()`` when it holds a process or a model). The base class does what every
backend needs alike: blank lines come back blank without reaching the backend, line breaks inside a text
become spaces (both backends would merge or split lines otherwise), and every call is timed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rtvoice.errors import RtvoiceError
from rtvoice.metrics.percentiles import Reservoir, percentiles

# ISO 639-1 codes rtvoice knows a name for (what `rtvoice languages` prints).
LANGUAGE_NAMES = {
    "en": "English", "pt": "Portuguese", "es": "Spanish", "ca": "Catalan", "gl": "Galician",
    "de": "German", "fr": "French", "it": "Italian", "zh": "Chinese", "ja": "Japanese",
}


class TranslationError(RtvoiceError):
    """Translation failed or cannot be set up (one line for the user)."""


class UnsupportedPairError(TranslationError):
    """No backend of rtvoice translates between these two languages."""


class BackendMissingError(TranslationError):
    """A backend that would translate the pair is not installed here; the message says what to install."""


@dataclass(frozen=True)
class Pair:
    """A translation direction, ISO 639-1 codes (``Pair("en", "pt")``)."""

    source: str
    target: str

    def __post_init__(self):
        for code in (self.source, self.target):
            if not (isinstance(code, str) and 2 <= len(code) <= 3 and code.isalpha() and code.islower()):
                raise ValueError(f"language codes are two or three lower-case letters (ISO 639), got {code!r}")
        if self.source == self.target:
            raise ValueError(f"source and target language are the same ({self.source})")

    def __str__(self) -> str:
        return f"{self.source}→{self.target}"


@dataclass(frozen=True)
class Translation:
    """One translated line: ``text`` in the target language, ``ms`` the wall time the call took (ms)."""

    source_text: str
    text: str
    ms: float


class Translator:
    """Translates lines from ``pair.source`` to ``pair.target``; thread-safe (calls may come from any
    thread; a backend that cannot run two at once serialises them itself).

    Subclasses set ``backend`` (a short name), ``quality`` (a quality class for `rtvoice languages`) and
    implement ``_translate``.
    """

    backend = "?"
    quality = "?"

    def __init__(self, pair: Pair):
        self.pair = pair
        self._timings = Reservoir()  # ms per non-empty line
        self._timings_lock = threading.Lock()

    @property
    def source(self) -> str:
        return self.pair.source

    @property
    def target(self) -> str:
        return self.pair.target

    def translate(self, text: str, timed: bool = True) -> Translation:
        """Translate one line (line breaks inside it are read as spaces). A blank line gives ''. ``timed``
        False: not counted in :meth:`stats` (a guess ahead of the line, not a line)."""
        line = " ".join(text.split())
        t0 = time.perf_counter()
        out = " ".join(self._translate(line).split()) if line else ""
        ms = (time.perf_counter() - t0) * 1e3
        if line and timed:
            with self._timings_lock:
                self._timings.append(ms)
        return Translation(text, out, ms)

    def translate_text(self, text: str) -> str:
        """Just the translated text of :meth:`translate`."""
        return self.translate(text).text

    def _translate(self, line: str) -> str:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load what the first line would otherwise wait for (a model, a process's dictionaries); not
        counted in the timings."""
        self._translate("Good morning.")

    def describe(self) -> str:
        return f"{self.pair} by {self.backend} ({self.quality})"

    def stats(self) -> dict:
        """Lines translated and their latency (ms): {lines, ms: {n, p50, p95, ...}, backend, pair}."""
        with self._timings_lock:
            summary = percentiles(self._timings)
        return {"backend": self.backend, "pair": f"{self.source}-{self.target}", "lines": summary["n"],
                "ms": summary}

    def close(self) -> None:
        """Release what the backend holds (processes, models); translating afterwards is an error."""

    def __enter__(self) -> "Translator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
