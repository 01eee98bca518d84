"""One loaded Whisper model shared by every stream of the server, with decodes batched across streams.

Each stream's pipeline thread calls :meth:`SharedRecognizer.transcribe` as it would call the recognizer
itself. While the model is busy, the calls that arrive wait; when it frees, the first of them to wake
takes every waiting call of a similar window length (up to ``max_batch``) and runs them as one CTranslate2 batch
(:meth:`WhisperRecognizer.transcribe_batch`: one encoder pass and one decoder pass for all), then hands each
caller its own result. No extra thread, no waiting window: a call that finds the model idle runs at once,
alone, so batching only happens when decodes are due together, which is when it saves time.

With ``batching=False`` the calls run one at a time (the model's own lock), for comparison.

What the server reports about the sharing (rtvoice.server.metrics): how long a call waited for the model,
how long each model call ran, and the batch sizes.
"""

from __future__ import annotations

import threading
import time

from rtvoice.asr.whisper import HOP, DecodeRequest


class _Call:
    __slots__ = ("request", "frames", "result", "error", "done")

    def __init__(self, request: DecodeRequest, frames: int):
        self.request = request
        self.frames = frames  # the encoder window the call needs alone
        self.result = None
        self.error: BaseException | None = None
        self.done = False


class SharedRecognizer:
    """A WhisperRecognizer used by several streams' pipelines at once.

    Args:
        recognizer: the loaded WhisperRecognizer.
        metrics: rtvoice.server.metrics.ServerMetrics, or None.
        batching: run decodes that are due together as one batch.
        max_batch: most decodes in one batch.
        max_padding: a call joins a batch only if its own window is within this factor of the window of the
            call running the batch (every window is padded to the longest, and the encoder's cost grows faster
            than its window: a 0.5 s partial batched with a 20 s final would cost more than both alone).
    """

    def __init__(self, recognizer, metrics=None, batching: bool = True, max_batch: int = 8,
                 max_padding: float = 1.3):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_padding < 1:
            raise ValueError(f"max_padding must be >= 1, got {max_padding}")
        self.max_padding = max_padding
        self._inner = recognizer
        self._metrics = metrics
        self.batching = batching
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._waiting: list[_Call] = []
        self._busy = False
        self.batches = 0
        self.batched_calls = 0

    def __getattr__(self, name):  # tokenizer, model_name, device, fallbacks, describe() ...
        return getattr(self._inner, name)

    def transcribe(self, audio, prefix=(), previous=(), word_timestamps: bool = True, fallback: bool = True,
                   window=None, token_probabilities: bool = False):
        """As WhisperRecognizer.transcribe (``window`` is not supported when batching; batched decodes give no
        ``token_probs``, so a "newest" commit boundary commits as "all" there)."""
        frames = self._inner.config.window.frames(len(audio) // HOP)
        call = _Call(DecodeRequest(audio, tuple(prefix), tuple(previous), word_timestamps, fallback), frames)
        queued = time.perf_counter()
        with self._cond:
            self._waiting.append(call)
            while not call.done and self._busy:
                self._cond.wait()
            if call.done:
                return self._result(call)
            self._busy = True  # this caller runs the batch (its own call is in it)
            batch = [call]
            if self.batching and window is None:
                low, high = call.frames / self.max_padding, call.frames * self.max_padding
                batch += [c for c in self._waiting if c is not call and low <= c.frames <= high][:self.max_batch - 1]
            for c in batch:
                self._waiting.remove(c)
        started = time.perf_counter()
        try:
            if len(batch) == 1 and window is not None:
                results = [self._inner.transcribe(audio, prefix=prefix, previous=previous,
                                                  word_timestamps=word_timestamps, fallback=fallback, window=window)]
            else:
                results = self._inner.transcribe_batch([c.request for c in batch])
            for c, result in zip(batch, results):
                c.result = result
        except BaseException as error:  # every caller of the batch gets the error, the model is freed
            for c in batch:
                c.error = error
        finally:
            ran = time.perf_counter() - started
            with self._cond:
                for c in batch:
                    c.done = True
                self._busy = False
                self.batches += 1
                self.batched_calls += len(batch)
                self._cond.notify_all()
            if self._metrics is not None:
                self._metrics.decode_wait.observe(started - queued)
                self._metrics.decode_seconds.observe(ran)
                self._metrics.decode_batch.observe(len(batch))
        return self._result(call)

    @staticmethod
    def _result(call: _Call):
        if call.error is not None:
            raise call.error
        return call.result


__all__ = ["SharedRecognizer"]
