"""Live translation beside the captions: each final caption translated as it arrives, on a worker thread.

Wires rtvoice.mt between recognition and the outputs (rtvoice.mt never imports rtvoice.asr nor the
voice). The caption loop only appends a final to a queue (``write`` returns at once), so translation
never holds recognition up; the worker translates finals in the order they came and hands each
:class:`~rtvoice.captions.translated.TranslatedCaption` to the target-language outputs (SRT, VTT, JSONL,
terminal) and then to the next stage, the dubbing voice when there is one. Only finals are translated,
so a translated line never reaches the voice before its source caption is final.

A line whose translation fails is counted and reported (its source caption is written as usual); the
following lines go on. The queue is not bounded: a final is never dropped. How long finals waited for
the worker (queue depth, wait) is in the stats.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from rtvoice.captions.translated import TranslatedCaption
from rtvoice.captions.writers import CaptionFanout
from rtvoice.metrics.percentiles import Reservoir, percentiles

log = logging.getLogger("rtvoice.translate")


class TranslationStage:
    """Caption stage (see rtvoice.commands.caption.CaptionStage) that translates finals.

    Args:
        translator: a :class:`rtvoice.mt.Translator` for source language → target language.
        outputs: writers for the translated captions (closed by ``finish``).
        next_stage: a caption stage fed with the translated captions instead of the source ones (the
            dubbing voice), attached, finished and reported with this one.
    """

    def __init__(self, translator, outputs: list, next_stage=None):
        self.translator = translator
        self.outputs = CaptionFanout(outputs)
        self.next_stage = next_stage
        self._listeners: list = []
        self._queue: deque = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._worker = threading.Thread(target=self._run, name="rtvoice-translate", daemon=True)
        self.lines = 0
        self.failed_lines = 0
        self.max_queue = 0
        self._wait_s = Reservoir()  # final emitted -> translation ready (s): queueing plus translation
        self._first_error: str | None = None

    # ---------------------------------------------------------------- CaptionStage
    def attach(self, source) -> list:
        if self.next_stage is not None:
            self._listeners = self.next_stage.attach(source)
        self._worker.start()
        return [self]

    def write(self, event) -> None:
        """Caption loop side: queue a final, return at once."""
        if not event.is_final or not event.text.strip():
            return
        with self._wake:
            self._queue.append(event)
            self.max_queue = max(self.max_queue, len(self._queue))
            self._wake.notify()

    def finish(self, interrupted: bool) -> None:
        """Translate what is queued (it is short work; an interrupt still gets every caption it had),
        then close the translated outputs and the next stage."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._worker.is_alive():
            self._worker.join()
        try:
            self.outputs.close()
        finally:
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
                event = self._queue.popleft()
            self._translate(event)

    def _translate(self, event) -> None:
        try:
            result = self.translator.translate(event.text)
        except Exception as error:  # noqa: BLE001 - one failed line is reported; the captions go on
            self.failed_lines += 1
            if self._first_error is None:
                self._first_error = str(error)
                log.warning("translation: a line failed (%s); the captions and the following lines go on", error)
            return
        translated = TranslatedCaption(event, result.text, self.translator.target, self.translator.source,
                                       emitted_at=time.time(), translation_s=result.ms / 1e3)
        self.lines += 1
        self._wait_s.append(translated.emitted_at - event.emitted_at)
        self.outputs.write(translated)
        for listener in self._listeners:
            listener.write(translated)

    # ---------------------------------------------------------------- figures
    def stats(self) -> dict:
        out = {"translation": {**self.translator.stats(), "translated_lines": self.lines,
                               "failed_lines": self.failed_lines, "max_queue": self.max_queue,
                               "final_to_translation_s": percentiles(self._wait_s)}}
        if self.next_stage is not None:
            out.update(self.next_stage.stats())
        return out

    def report_lines(self) -> list[str]:
        t = self.stats()["translation"]
        wait = t["final_to_translation_s"]
        lines = [f"translation: {self.translator.describe()}: {t['translated_lines']} line(s), "
                 f"{(t['ms']['p50'] or 0):.1f} ms a line (p50), final -> translated p50 "
                 f"{(wait['p50'] or 0) * 1e3:.0f} ms, p95 {(wait['p95'] or 0) * 1e3:.0f} ms"]
        if self.failed_lines:
            lines.append(f"translation: {self.failed_lines} line(s) failed ({self._first_error})")
        if self.next_stage is not None:
            lines += self.next_stage.report_lines()
        return lines
