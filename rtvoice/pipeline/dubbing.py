"""The dubbing voice: every final caption spoken in the chosen voice as soon as it is final.

Wires the two halves (rtvoice.asr never imports rtvoice.tts, nor the reverse): a caption listener that
hands each final caption's text to a :class:`rtvoice.tts.TtsEngine`, tagged with the caption so a
:class:`rtvoice.tts.TimelineSink` can place the line at its source start on a dubbed track.

Dub latency, per line: end of the source speech (the end of the caption's last word, as captured) to
the first dubbed sample handed to the outputs. Measured for live sources only (a microphone, a file paced
in real time); a file read as fast as possible has no capture clock.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from rtvoice.metrics.percentiles import Reservoir, percentiles
from rtvoice.audio.sources import SAMPLE_RATE

log = logging.getLogger("rtvoice.dub")


class DubStage:
    """Caption stage for ``rtvoice dub`` (see rtvoice.commands.caption.CaptionStage).

    Args:
        engine: a started-or-not TtsEngine whose sinks are the outputs (speaker, dubbed track).
        timeline: the engine's TimelineSink, if a dubbed track is written (for its placement clock).
    """

    LINES_KEPT = 32
    HANDOFFS_KEPT = 1000

    def __init__(self, engine, timeline=None):
        self.engine = engine
        self.timeline = timeline
        # (caption event, utterance): the latest LINES_KEPT lines; the figures cover every line (a long run's
        # memory stays bounded: lines are counted and their latency summarised once spoken).
        self.lines: deque[tuple[object, object]] = deque(maxlen=self.LINES_KEPT)
        self._unsettled: deque[tuple[object, object]] = deque()  # lines not summarised yet
        self.line_count = 0
        self.handoffs: list[dict] = []  # the first HANDOFFS_KEPT lines: final -> voice times (for --stats)
        self.failed_lines = 0
        self._latencies = Reservoir()
        # Per line, for `rtvoice bench`: caption -> first dubbed sample (s), and the caption's own latency
        # plus that (the dub latency on the virtual clock, where the caption latency is virtual).
        self.tts_first_audio = Reservoir()
        self.caption_plus_tts = Reservoir()
        self._source = None
        # perf_counter (TTS timestamps) -> time.time (capture clock of the sources)
        self._wall_minus_perf = time.time() - time.perf_counter()

    def attach(self, source) -> list:
        self._source = source
        self.engine.start()
        return [self]

    def write(self, event) -> None:
        if not event.is_final or not event.text.strip():
            return
        if self.timeline is not None and self.timeline.clock_origin is None and self._source.live:
            anchor = self._source.clock.anchor
            if anchor is not None:  # lines placed no earlier than their audio was ready
                self.timeline.clock_origin = anchor - self._wall_minus_perf
        try:
            utterance = self.engine.speak(event.text, tag=event)
        except Exception as error:  # an earlier line failed to synthesise: report it, the chain goes on
            log.warning("voice: a line failed (%s); captions and the following lines go on", error)
            utterance = self.engine.speak(event.text, tag=event)
        self.lines.append((event, utterance))
        self._unsettled.append((event, utterance))
        self.line_count += 1
        if len(self.handoffs) < self.HANDOFFS_KEPT:
            # when the line's source caption became final and when its text reached the voice (time.time());
            # for a translated line, the source is the caption it translates
            source = getattr(event, "source", event)
            self.handoffs.append({"segment": event.segment, "final_at": round(source.emitted_at, 4),
                                  "spoken_at": round(time.time(), 4), "language": getattr(event, "language", None)})
        self._settle()

    def _settle(self) -> None:
        """Summarise the lines already spoken (the voice speaks them in order)."""
        while self._unsettled and self._unsettled[0][1].done:
            event, utterance = self._unsettled.popleft()
            self.failed_lines += utterance.error is not None
            end = self._speech_end_wall(event)
            if end is not None and utterance.t_first_audio is not None:
                self._latencies.append(utterance.t_first_audio + self._wall_minus_perf - end)
            tts = utterance.end_to_end_first_audio_s
            if tts is not None:
                self.tts_first_audio.append(tts)
                if event.latency is not None:
                    self.caption_plus_tts.append(event.latency + tts)

    def finish(self, interrupted: bool) -> None:
        self.engine.close(drain=not interrupted)

    def _speech_end_wall(self, event) -> float | None:
        if self._source is None or not self._source.live:
            return None
        return self._source.clock.wall_time(int(round(event.end * SAMPLE_RATE)))

    def latencies(self) -> Reservoir:
        """Dub latency (s) of every line spoken so far (a uniform sample of them past 4096 lines)."""
        self._settle()
        return self._latencies

    def stats(self) -> dict:
        self._settle()
        dub = percentiles(self.latencies())
        tts = self.engine.stats()
        return {
            "dub_latency_s": dub,
            "dub_latency_p50_s": dub["p50"],  # flat copies for `rtvoice bench` budgets
            "dub_latency_p95_s": dub["p95"],
            "dub_lines": self.line_count,
            "dub_failed_lines": self.failed_lines,
            "dub_handoffs": list(self.handoffs),
            "tts": tts,
        }

    def report_lines(self) -> list[str]:
        s = self.stats()
        tts, dub = s["tts"], s["dub_latency_s"]
        lines = [f"voice: {tts['spoken']} line(s), {tts['audio_s']:.1f} s, first audio p50 "
                 f"{(tts['tts_first_audio_s']['p50'] or 0) * 1e3:.0f} ms, RTF {tts['rtf'] or 0:.3f}, "
                 f"underruns {tts['underruns']}"]
        if s["dub_failed_lines"]:
            lines.append(f"voice: {s['dub_failed_lines']} line(s) failed to synthesise (see the warnings)")
        if dub["n"]:
            lines.append(f"dub latency (end of speech -> first dubbed sample): p50 {dub['p50']:.2f} s, "
                         f"p95 {dub['p95']:.2f} s over {dub['n']} line(s)")
        if hasattr(self.timeline, "report_line"):  # a track fitted to the source slots: what fitting did
            lines.append(self.timeline.report_line())
        return lines
