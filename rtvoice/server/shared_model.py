"""One loaded Whisper model shared by every stream of the server.

:class:`WhisperRecognizer` serialises its decodes already; this wrapper adds what the server reports
about that sharing: how long a decode waited for the model, how long it ran, and the batch size (one
decode a call here). It answers everything else as the wrapped recognizer does.
"""

from __future__ import annotations

import threading
import time


class SharedRecognizer:
    """A WhisperRecognizer used by several streams' pipelines at once (one decode at a time)."""

    def __init__(self, recognizer, metrics=None):
        self._inner = recognizer
        self._metrics = metrics
        self._lock = threading.Lock()

    def __getattr__(self, name):  # tokenizer, model_name, device, fallbacks, describe() ...
        return getattr(self._inner, name)

    def transcribe(self, audio, **options):
        queued = time.perf_counter()
        with self._lock:
            started = time.perf_counter()
            result = self._inner.transcribe(audio, **options)
        if self._metrics is not None:
            self._metrics.decode_wait.observe(started - queued)
            self._metrics.decode_seconds.observe(time.perf_counter() - started)
            self._metrics.decode_batch.observe(1)
        return result


__all__ = ["SharedRecognizer"]
