"""The voice's first piece of a translated line, prepared from the translation of its latest partial caption.

A Kokoro voice (Spanish, Portuguese) computes a piece whole before its first sample, so a translated line's
first audio waits for its whole first piece: about 0.8 s on 2 cores, most of what the line's dub latency
adds after its final caption. While the speaker is still talking the partial captions already hold most of
the line; their translation usually begins as the final's will. So each new partial is translated (on a
thread of its own, so the caption loop and the translation of finals never wait for it) and the voice is
asked to synthesise that translation's first piece ahead (rtvoice.tts.prepared), only while it is idle.

Nothing reaches the voice before its source is final: the final is translated as always, and the prepared
piece is spoken only if the final's translation begins with exactly that piece (same phoneme ids, same
speed); otherwise it is dropped and counted. Only the latest partial is kept: a partial that comes while one
is being prepared replaces the one waiting. Lines whose pair needs the audio (Whisper's translate task)
are not prepared: that voice is the English Piper one, which streams inside a piece anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("rtvoice.translate")


class FirstPiecePreparer:
    """Translates the latest partial caption and has the voice prepare its first piece.

    Args:
        router: the stream's :class:`rtvoice.pipeline.translation.TranslatorRouter` (its text translators
            are thread-safe; these translations are not counted in their line figures).
        prepare: asks the voice to prepare the first piece of a translated text; returns whether it
            synthesised one (DubStage.prepare_line).
    """

    def __init__(self, router, prepare: Callable[[str], bool]) -> None:
        self.router = router
        self.prepare = prepare
        self._latest = None  # the partial waiting to be prepared
        self._wake = threading.Condition()
        self._closing = False
        self._last: tuple[int, str] | None = None  # (segment, text) of the partial last translated
        self.partials_translated = 0
        self.pieces_prepared = 0
        self.failures = 0
        self._worker = threading.Thread(target=self._run, name="rtvoice-prepare", daemon=True)
        self._worker.start()

    def write(self, event) -> None:
        """Caption side (a source caption, partial or final): keep the latest partial; a final ends its
        segment, so its partials are stale."""
        with self._wake:
            if event.is_final:
                if self._latest is not None and self._latest.segment <= event.segment:
                    self._latest = None
                return
            if event.text.strip():
                self._latest = event
                self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._latest = None
            self._wake.notify()
        self._worker.join()

    def stats(self) -> dict:
        return {"partials_translated": self.partials_translated, "pieces_prepared": self.pieces_prepared,
                "failures": self.failures}

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._latest is not None or self._closing)
                if self._closing:
                    return
                event, self._latest = self._latest, None
            try:
                self._prepare(event)
            except Exception as error:  # noqa: BLE001 - a guess that fails costs nothing but the guess
                self.failures += 1
                if self.failures == 1:
                    log.warning("voice: preparing a line ahead failed (%s); lines are spoken as usual", error)

    def _prepare(self, event) -> None:
        text = " ".join(event.text.split())
        if self._last == (event.segment, text):
            return
        self._last = (event.segment, text)
        router = self.router
        source = getattr(event, "language", None) or router.source
        if source is None or source == router.target:
            return
        translator = router.for_source(source)
        if translator is None or getattr(translator, "needs_audio", False):
            return
        translated = translator.translate(text, timed=False).text
        self.partials_translated += 1
        if translated and self.prepare(translated):
            self.pieces_prepared += 1
