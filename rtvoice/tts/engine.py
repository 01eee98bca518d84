"""The voice engine: a worker thread that speaks queued texts into sinks as soon as they arrive.

``TtsEngine.speak(text)`` returns at once with an :class:`Utterance` handle; the worker synthesises
chunk by chunk (:class:`rtvoice.tts.synthesis.Synthesizer`) and hands each chunk to every sink
(speaker, WAV file, or a callback such as a dubbed-track writer). Synthesis of the next chunk overlaps
playback of the current one: the speaker plays from its ring buffer while the worker computes.
ONNX Runtime releases the GIL while it runs, so other Python threads (recognition) keep running.

Timings are taken on ``time.perf_counter()``. ``first_audio_s`` is text ready -> first sample handed
to the sinks (for the speaker: in its output ring), where "ready" is when the text was submitted or,
if the voice was still busy with earlier lines, when it got to this one; time the first write spent
waiting for room in a full output ring (earlier speech still playing) is not counted.
``end_to_end_first_audio_s`` is the plain submitted -> first sample time, queueing included.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rtvoice.errors import RtvoiceError
from rtvoice.metrics.percentiles import Reservoir, percentiles
from rtvoice.tts.playback import AudioSink
from rtvoice.tts.synthesis import SynthesisOptions, SynthesisReport, Synthesizer
from rtvoice.tts.voice import PiperVoiceModel

if TYPE_CHECKING:
    from rtvoice.tts.kokoro import KokoroVoice

log = logging.getLogger("rtvoice.tts")


@dataclass(eq=False)
class Utterance:
    """A text being spoken. Times are ``time.perf_counter()`` seconds; sample counts at the voice rate."""

    id: int
    text: str
    tag: object = None
    t_submitted: float = 0.0
    t_started: float | None = None  # the worker took it
    t_first_audio: float | None = None  # first sample handed to the sinks
    first_write_wait_s: float = 0.0  # of which the first write waited for room in a sink
    t_done: float | None = None  # last sample handed to the sinks
    samples: int = 0
    speedup: float = 1.0  # on top of the voice's speed (see TtsEngine.speak)
    speaker: str | None = None  # another speaker of the voice for this text (None: the voice's own)
    compute_s: float = 0.0
    underruns: int = 0
    report: SynthesisReport = field(default_factory=SynthesisReport)
    error: BaseException | None = None
    cancelled: bool = False
    dropped: bool = False  # the engine's pacer chose not to say it (TtsEngine.pacer)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def first_audio_s(self) -> float | None:
        """Text ready (submitted, or reached by the voice) -> first audio sample out, not counting
        waits for room in a full output ring; None if nothing was said."""
        if self.t_first_audio is None:
            return None
        ready = max(self.t_submitted, self.t_started or self.t_submitted)
        return self.t_first_audio - ready - self.first_write_wait_s

    @property
    def end_to_end_first_audio_s(self) -> float | None:
        """Text submitted -> first audio sample out, queueing behind earlier lines included."""
        return None if self.t_first_audio is None else self.t_first_audio - self.t_submitted

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the utterance is synthesised and handed to the sinks (not necessarily heard)."""
        return self._done.wait(timeout)


class CallbackSink(AudioSink):
    """Calls ``fn(utterance, samples, offset)`` for each chunk (e.g. to place audio on a dubbed track)."""

    def __init__(self, fn: Callable[[Utterance, np.ndarray, int], None]) -> None:
        self.fn = fn

    def write(self, utterance, samples, offset) -> None:
        self.fn(utterance, samples, offset)


class TtsEngine:
    """Speaks texts in order on a worker thread.

    Args:
        voice: a loaded voice.
        options: synthesis options (speaker, speed, piece and window sizes).
        sinks: where audio goes (PlaybackSink, WavSink, CallbackSink ...).
        max_pending: texts that may wait in the queue; ``speak`` blocks beyond that (producer side).

    ``pacer`` (optional, set before the first ``speak``): an object the worker consults for each text, e.g. a
    dubbing voice keeping pace with a speaker (rtvoice.pipeline.dubbing): ``plan(utterance) -> bool`` when the
    worker takes the text up (it may change ``text`` and ``speedup``; False: drop it unsaid),
    ``admit(utterance) -> bool`` when its first audio is ready, before any sink sees it (False: drop it), and
    ``shape(utterance, chunk) -> samples`` for each chunk (e.g. trimming silence).
    """

    UTTERANCES_KEPT = 32
    LINES_KEPT = 1000

    def __init__(self, voice: PiperVoiceModel | KokoroVoice, options: SynthesisOptions | None = None,
                 sinks: Iterable[AudioSink] = (), max_pending: int = 1024) -> None:
        self.voice = voice
        # a voice with a synthesizer of its own (Kokoro, rtvoice.tts.kokoro), else the Piper streaming one
        make = getattr(voice, "synthesizer", None)
        self.synthesizer = make(options) if make is not None else Synthesizer(voice, options)
        self.sinks = list(sinks)
        self.pacer = None
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._next_id = 0
        self._pending = 0
        self._idle = threading.Condition()
        self._cancel = threading.Event()
        self._closed = False
        self._started = False
        self.t_start: float | None = None  # perf_counter when the worker started
        # The latest finished utterances; stats() covers all of them (summed as they finish, so a long run's
        # memory stays bounded).
        self.utterances: deque[Utterance] = deque(maxlen=self.UTTERANCES_KEPT)
        self._summary_lock = threading.Lock()
        self._finished = 0
        self._spoken = 0
        self._samples = 0
        self._compute_s = 0.0
        self._underruns = 0
        self._skipped_characters = 0
        self._first_audio = Reservoir()
        self._end_to_end_first_audio = Reservoir()
        self._lines: list[dict] = []  # the first LINES_KEPT, for --stats
        self.error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, name="rtvoice-tts", daemon=True)

    # ---------------------------------------------------------------- public
    def start(self) -> "TtsEngine":
        """Open the sinks (devices, files) and start the worker; ``speak`` does this on first use."""
        if not self._started:
            for sink in self.sinks:
                sink.start(self.voice.sample_rate)
            self.t_start = time.perf_counter()
            self._worker.start()
            self._started = True
        return self

    def speak(self, text: str, tag: object = None, speedup: float = 1.0, speaker: str | None = None) -> Utterance:
        """Queue ``text``; returns at once. Empty text gives an utterance that is done at once. ``speedup``
        speeds this text up on top of the options' speed (the voice's own duration control, not a stretch).
        ``speaker``: another speaker of the loaded voice says this text (a Kokoro voice: another style vector
        on the same session, e.g. ``em_alex`` for a male source speaker); an unknown one raises ModelError
        here, before anything is queued."""
        if self._closed:
            raise RtvoiceError("the voice engine is closed")
        if not 0.5 <= speedup <= 2.0:
            raise ValueError(f"speedup must be within 0.5..2, got {speedup}")
        if speaker is not None:
            self._check_speaker(speaker)
        self._raise_error()
        self.start()
        utt = Utterance(self._next_id, text, tag, t_submitted=time.perf_counter(), speedup=float(speedup),
                        speaker=speaker)
        self._next_id += 1
        with self._idle:
            self._pending += 1
        self._queue.put(utt)
        return utt

    @property
    def can_prepare(self) -> bool:
        """Whether this voice synthesises first pieces ahead (:meth:`prepare_first_piece`): a voice that cannot stream
        inside a piece (Kokoro)."""
        return hasattr(self.synthesizer, "prepare_first_piece")

    def _check_speaker(self, speaker: str) -> None:
        check = getattr(self.synthesizer, "check_speaker", None)
        if check is None:
            raise RtvoiceError(f"voice {self.voice.name} cannot change speaker per line (a Kokoro voice can); "
                               f"speaker {speaker!r} does not apply")
        check(speaker)

    def prepare_first_piece(self, text: str, speedup: float = 1.0, speaker: str | None = None) -> bool:
        """Synthesise the first piece of a line that may come (rtvoice.tts.prepared), on the calling thread,
        only while the voice is idle (nothing queued or being synthesised: it would take the CPU from a line
        being spoken). Nothing is played; a later :meth:`speak` whose first piece matches starts with it.
        True when a piece was synthesised. ``speaker``: as in :meth:`speak` (the piece is kept for that speaker)."""
        if not self.can_prepare or self._closed:
            return False
        with self._idle:
            if self._pending:
                return False
        if speaker is not None:
            self._check_speaker(speaker)
            return self.synthesizer.prepare_first_piece(text, speedup, speaker)
        return self.synthesizer.prepare_first_piece(text, speedup)

    def cancel(self) -> None:
        """Barge-in: stop the current utterance after its current chunk, drop the queued ones, and
        silence what the sinks hold but have not played yet (the speaker's ring is emptied)."""
        self._cancel.set()
        for sink in self.sinks:
            sink.interrupt()
        while True:
            try:
                utt = self._queue.get_nowait()
            except queue.Empty:
                break
            if utt is None:
                self._queue.put(None)
                break
            utt.cancelled = True
            self._finish(utt)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued text was synthesised and handed to the sinks."""
        with self._idle:
            ok = self._idle.wait_for(lambda: self._pending == 0, timeout)
        self._raise_error()
        return ok

    def drain(self, timeout: float | None = None) -> bool:
        """wait_idle, then wait until the sinks have played/written everything."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self.wait_idle(timeout):
            return False
        for sink in self.sinks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not sink.drain(left):
                return False
        return True

    def close(self, drain: bool = True) -> None:
        """Finish (or, with drain=False, cancel) what is queued, then stop the worker and close sinks."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._started:
                if drain:
                    self.drain()
                else:
                    self.cancel()
                self._queue.put(None)
                self._worker.join()
        finally:
            for sink in self.sinks:
                sink.close()
        self._raise_error()

    def __enter__(self) -> "TtsEngine":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(drain=exc_type is None)

    def stats(self) -> dict:
        """Figures for --stats: first-audio latency, real-time factor, underruns and more."""
        with self._summary_lock:
            first = percentiles(self._first_audio)
            end_to_end = percentiles(self._end_to_end_first_audio)
            audio_s = self._samples / self.voice.sample_rate
            compute_s = self._compute_s
            counts = (self._underruns, self._finished, self._spoken, self._skipped_characters)
            lines = list(self._lines)
        prepared = self.synthesizer.prepared.stats() if self.can_prepare else None
        if prepared is not None:  # synthesis spent ahead is the voice's compute too, used or not
            compute_s += prepared["compute_s"]
        out = {
            "tts_first_audio_s": first,
            "tts_first_audio_p50_s": first["p50"],  # flat copies for `rtvoice bench` budgets
            "tts_first_audio_p95_s": first["p95"],
            "tts_end_to_end_first_audio_s": end_to_end,
            "rtf": (compute_s / audio_s) if audio_s else None,
            "underruns": counts[0],
            "utterances": counts[1],
            "spoken": counts[2],
            "audio_s": audio_s,
            "compute_s": compute_s,
            "skipped_characters": counts[3],
            "voice": self.voice.name,
            "sample_rate": self.voice.sample_rate,
            "device": self.voice.device,
            "device_reason": self.voice.provider_choice.reason,
            "streaming_windows": self.voice.streaming,
            "lines": lines,
        }
        if prepared is not None:
            out["prepared_first_pieces"] = prepared
        for sink in self.sinks:
            out.update(sink.stats())
        return out

    def _line(self, u: Utterance) -> dict:
        t0 = self.t_start or 0.0
        return {"id": u.id, "submitted_s": u.t_submitted - t0, "first_audio_s": u.first_audio_s,
                "end_to_end_first_audio_s": u.end_to_end_first_audio_s,
                "done_s": None if u.t_done is None else u.t_done - t0, "audio_s": u.samples / self.voice.sample_rate,
                "speedup": u.speedup, "speaker": u.speaker, "prepared_first_piece": u.report.prepared_first_piece,
                "underruns": u.underruns, "skipped": u.report.skipped_count, "cancelled": u.cancelled,
                "dropped": u.dropped}

    # ---------------------------------------------------------------- worker
    def _raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _finish(self, utt: Utterance) -> None:
        utt.t_done = time.perf_counter()
        with self._summary_lock:
            self.utterances.append(utt)
            self._finished += 1
            self._samples += utt.samples
            self._compute_s += utt.compute_s
            self._underruns += utt.underruns
            self._skipped_characters += utt.report.skipped_count
            if utt.t_first_audio is not None:
                self._spoken += 1
                self._first_audio.append(utt.first_audio_s)
                self._end_to_end_first_audio.append(utt.end_to_end_first_audio_s)
            if len(self._lines) < self.LINES_KEPT:
                self._lines.append(self._line(utt))
        utt._done.set()
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            utt = self._queue.get()
            if utt is None:
                return
            self._cancel.clear()
            try:
                self._speak(utt)
            except BaseException as error:  # noqa: BLE001 - reported to the caller, worker keeps going
                utt.error = error
                if self.error is None:
                    self.error = error
                log.debug("utterance %d failed: %s", utt.id, error)
            finally:
                self._finish(utt)

    def _speak(self, utt: Utterance) -> None:
        utt.t_started = time.perf_counter()
        offset = 0
        began = False
        pacer = self.pacer
        if pacer is not None and not pacer.plan(utt):
            utt.dropped = True
            return
        try:
            per_line = {} if utt.speaker is None else {"speaker": utt.speaker}
            for chunk in self.synthesizer.stream(utt.text, utt.report, cancelled=self._cancel.is_set,
                                                 speedup=utt.speedup, **per_line):
                if pacer is not None:
                    chunk.samples = pacer.shape(utt, chunk)
                    if not len(chunk.samples):
                        utt.compute_s += chunk.compute_s
                        continue
                    if not began and not pacer.admit(utt):
                        utt.dropped = True
                        utt.compute_s += chunk.compute_s
                        return
                if not began:
                    for sink in self.sinks:
                        sink.begin(utt)
                    began = True
                waited = sum(sink.wait_s for sink in self.sinks) if utt.t_first_audio is None else 0.0
                for sink in self.sinks:
                    sink.write(utt, chunk.samples, offset)
                offset += len(chunk.samples)
                utt.samples = offset
                utt.compute_s += chunk.compute_s
                if utt.t_first_audio is None:
                    utt.t_first_audio = time.perf_counter()
                    utt.first_write_wait_s = sum(sink.wait_s for sink in self.sinks) - waited
        finally:
            if began:
                if self._cancel.is_set():
                    for sink in self.sinks:  # audio written after cancel() was called is dropped too
                        sink.interrupt()
                for sink in self.sinks:
                    sink.end(utt)
        utt.cancelled = self._cancel.is_set()
