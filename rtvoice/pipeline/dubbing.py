"""The dubbing voice: every final caption spoken in the chosen voice as soon as it is final.

Wires the two halves (rtvoice.asr never imports rtvoice.tts, nor the reverse): a caption listener that
hands each final caption's text to a :class:`rtvoice.tts.TtsEngine`, tagged with the caption so a
:class:`rtvoice.tts.TimelineSink` can place the line at its source start on a dubbed track.

Dub latency, per line: end of the source speech (the end of the caption's last word, as captured) to
the first dubbed sample handed to the outputs. Measured for live sources only (a microphone, a file paced
in real time); a file read as fast as possible has no capture clock.

How far behind the speaker the voice runs (:class:`VoiceLag`), live sources only: a listener hears the
voice in real time, each line after the one before it, so a line starts playing when its first audio is
out or when the line before it has finished playing, whichever is later. The voice's lag for a line is
that moment minus the end of the line's source speech (the voice cannot start a line before its source
is final, so this is what the queue adds on top of recognition and synthesis); a line still waiting in the
queue counts with the lag it has at least already. Sampled when a line starts, when one ends with lines
waiting, and when a final arrives. The lag includes recognition (a final comes some time after the end of
its speech): it is what a listener of the dubbed voice experiences. The terminal gets one line when the lag
first goes over the threshold and one when the voice has caught up, i.e. a line starts within the
threshold again; a voice that is idle between lines is not counted as caught up (when recognition is
what is slow, every line starts late, and that is one episode, not one pair of lines per caption).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from rtvoice.metrics.percentiles import Reservoir, percentiles
from rtvoice.audio.sources import SAMPLE_RATE
from rtvoice.tts.playback import AudioSink

log = logging.getLogger("rtvoice.dub")


class VoiceLag:
    """How far behind the speaker the voice runs (module docstring), with behind / caught-up announcements.

    Args:
        threshold_s: a lag over this many seconds is announced (once, until the voice has caught up).
        status: called with each announcement (one line); None: logged.
        notify: called with each announcement as (behind, lag in s, the line), e.g. for a socket event.
    """

    def __init__(self, threshold_s: float = 2.0, status: Callable[[str], None] | None = None,
                 notify: Callable[[bool, float, str], None] | None = None) -> None:
        if not threshold_s > 0:
            raise ValueError(f"the voice lag threshold must be > 0 s, got {threshold_s}")
        self.threshold_s = threshold_s
        self.status = status
        self.notify = notify
        self.samples = Reservoir()  # lag (s) at each look
        self.line_lags: list[float] = []  # lag (s) of each line as it started playing, the first LINES_KEPT
        self.episodes = 0  # times it went over the threshold
        self.longest_s = 0.0  # longest time spent over it
        self._behind_since: float | None = None
        self._worst = 0.0
        self._lock = threading.Lock()

    LINES_KEPT = 1000

    def observe(self, now: float, lag_s: float, waiting: int, line_start: bool = False) -> None:
        """A look at the lag (s) at wall time ``now`` with ``waiting`` lines queued."""
        with self._lock:
            self.samples.append(lag_s)
            if line_start and len(self.line_lags) < self.LINES_KEPT:
                self.line_lags.append(round(lag_s, 4))
            if self._behind_since is None:
                if lag_s > self.threshold_s:
                    self._behind_since, self._worst = now, lag_s
                    self.episodes += 1
                    self._say(True, lag_s, f"voice: {lag_s:.1f} s behind the speaker ({waiting} line(s) waiting)")
            else:
                self._worst = max(self._worst, lag_s)
                if line_start and lag_s <= self.threshold_s:
                    behind_for = now - self._behind_since
                    self.longest_s = max(self.longest_s, behind_for)
                    self._say(False, lag_s, f"voice: caught up with the speaker ({lag_s:.1f} s behind) after "
                                            f"{behind_for:.1f} s behind, at most {self._worst:.1f} s")
                    self._behind_since = None

    def _say(self, behind: bool, lag_s: float, line: str) -> None:
        if self.status is not None:
            self.status(line)
        else:
            log.info("%s", line)
        if self.notify is not None:
            self.notify(behind, lag_s, line)

    def stats(self, now: float | None = None) -> dict:
        with self._lock:
            longest = self.longest_s
            if self._behind_since is not None and now is not None:
                longest = max(longest, now - self._behind_since)
            return {"voice_behind_s": percentiles(self.samples), "voice_behind_threshold_s": self.threshold_s,
                    "voice_behind_episodes": self.episodes, "voice_behind_longest_s": round(longest, 3),
                    "voice_behind_line_start_s": list(self.line_lags)}


class DubStage:
    """Caption stage for ``rtvoice dub`` (see rtvoice.commands.caption.CaptionStage).

    Args:
        engine: a started-or-not TtsEngine whose sinks are the outputs (speaker, dubbed track).
        timeline: the engine's TimelineSink, if a dubbed track is written (for its placement clock).
        lag: how far behind the speaker the voice runs (live sources); default threshold 2 s, logged.
        catch_up: live sources: a line that would start more than the lag threshold behind the speaker is
            spoken this much faster (the voice's own speed control; 1.0: never), so that a voice whose lines
            are longer than the speech they replace (a translation) does not fall ever further behind.
        prepare_ahead: let a translation stage before this one have the voice synthesise a line's first piece
            ahead, from the translation of its partial captions (rtvoice.pipeline.speculation; only voices that
            cannot stream inside a piece, i.e. Kokoro, do it). Never changes what is said.
    """

    LINES_KEPT = 32
    HANDOFFS_KEPT = 1000

    def __init__(self, engine, timeline=None, lag: VoiceLag | None = None, catch_up: float = 1.0,
                 prepare_ahead: bool = True):
        if not 1.0 <= catch_up <= 2.0:
            raise ValueError(f"the catch-up speed-up must be within 1..2, got {catch_up}")
        self.engine = engine
        self.timeline = timeline
        self.lag = lag or VoiceLag()
        self.catch_up = catch_up
        self.prepares_ahead = prepare_ahead and engine.can_prepare
        self.caught_up_lines = 0  # lines spoken faster to catch up
        self._play_end = 0.0  # wall time at which a live listener has heard all the voice's audio so far
        self._waiting: deque = deque()  # (utterance, source end wall time) of lines not started yet
        self._lag_lock = threading.Lock()
        engine.sinks.append(_LagSink(self))
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
        end = self._speech_end_wall(event)
        speedup = self._catch_up_speedup(end)
        try:
            utterance = self.engine.speak(event.text, tag=event, speedup=speedup)
        except Exception as error:  # an earlier line failed to synthesise: report it, the chain goes on
            log.warning("voice: a line failed (%s); captions and the following lines go on", error)
            utterance = self.engine.speak(event.text, tag=event, speedup=speedup)
        self.caught_up_lines += speedup > 1.0
        self.lines.append((event, utterance))
        self._unsettled.append((event, utterance))
        if end is not None:
            with self._lag_lock:
                self._waiting.append((utterance, end))
            self._look_at_waiting()
        self.line_count += 1
        if len(self.handoffs) < self.HANDOFFS_KEPT:
            # when the line's source caption became final and when its text reached the voice (time.time());
            # for a translated line, the source is the caption it translates
            source = getattr(event, "source", event)
            self.handoffs.append({"segment": event.segment, "final_at": round(source.emitted_at, 4),
                                  "spoken_at": round(time.time(), 4), "language": getattr(event, "language", None)})
        self._settle()

    def prepare_line(self, text: str) -> bool:
        """Have the voice synthesise the first piece of `text` (a guess at the next line) ahead, at the speed
        a line whose speech ends now would get; True when it synthesised one (the voice was idle)."""
        live = self._source is not None and self._source.live
        return self.engine.prepare_first_piece(text, self._catch_up_speedup(time.time() if live else None))

    def _catch_up_speedup(self, source_end: float | None) -> float:
        """The speed-up for a line whose source speech ended at wall time `source_end`: ``catch_up`` when it
        cannot start within the lag threshold (the voice is still speaking, or has lines waiting, until
        later than that), else 1."""
        if self.catch_up <= 1.0 or source_end is None:
            return 1.0
        with self._lag_lock:
            busy_until = self._play_end
            if any(u.t_first_audio is None and not u.done for u, _ in self._waiting):
                busy_until = float("inf")  # lines before it are not even out yet
        return self.catch_up if max(time.time(), busy_until) - source_end > self.lag.threshold_s else 1.0

    # ---------------------------------------------------------------- voice lag (TTS worker and caption threads)
    def _look_at_waiting(self) -> None:
        """Sample the lag the oldest line still waiting has at least (the voice is behind by that much)."""
        now = time.time()
        with self._lag_lock:
            waiting = [(u, end) for u, end in self._waiting if u.t_first_audio is None and not u.done]
            if not waiting:
                return
            lag = max(now, self._play_end) - waiting[0][1]
        self.lag.observe(now, lag, len(waiting))

    def _line_audio(self, utterance, samples: int, offset: int) -> None:
        now = time.time()
        seconds = samples / self.engine.voice.sample_rate
        with self._lag_lock:
            start = max(now, self._play_end)
            self._play_end = start + seconds
            if offset:
                return
            entry = next(((u, end) for u, end in self._waiting if u is utterance), None)
            if entry is None:
                return
            self._waiting.remove(entry)
            waiting = sum(1 for u, _ in self._waiting if not u.done)
        self.lag.observe(now, start - entry[1], waiting, line_start=True)

    def _line_end(self, utterance) -> None:
        with self._lag_lock:
            self._waiting = deque((u, end) for u, end in self._waiting if u is not utterance and not u.done)
        self._look_at_waiting()

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
            **self.lag.stats(time.time()),
            "dub_latency_s": dub,
            "dub_latency_p50_s": dub["p50"],  # flat copies for `rtvoice bench` budgets
            "dub_latency_p95_s": dub["p95"],
            "dub_lines": self.line_count,
            "dub_catch_up": self.catch_up,
            "dub_caught_up_lines": self.caught_up_lines,
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
        behind = s["voice_behind_s"]
        if behind["n"]:
            lines.append(f"voice behind the speaker: p50 {behind['p50']:.2f} s, p95 {behind['p95']:.2f} s, max "
                         f"{behind['max']:.2f} s; over {self.lag.threshold_s:g} s {s['voice_behind_episodes']} "
                         f"time(s), longest {s['voice_behind_longest_s']:.1f} s")
        prepared = tts.get("prepared_first_pieces")
        if prepared and prepared["prepared"]:
            lines.append(f"voice: {prepared['used']} of {tts['spoken']} line(s) started with a first piece prepared "
                         f"from the partial captions' translation ({prepared['prepared']} prepared, "
                         f"{prepared['unused']} not spoken, {prepared['stopped']} stopped half-way for a line that "
                         f"began otherwise, {prepared['unused_compute_s']:.1f} s of synthesis unused)")
        if self.caught_up_lines:
            lines.append(f"voice: {self.caught_up_lines} line(s) spoken {self.catch_up:g}x faster to catch up with "
                         f"the speaker")
        if hasattr(self.timeline, "report_line"):  # a track fitted to the source slots: what fitting did
            lines.append(self.timeline.report_line())
        return lines


class _LagSink(AudioSink):
    """Engine sink that tells the DubStage when each line's audio comes out (for :class:`VoiceLag`)."""

    def __init__(self, stage: DubStage) -> None:
        self.stage = stage

    def write(self, utterance, samples, offset: int) -> None:
        self.stage._line_audio(utterance, len(samples), offset)

    def end(self, utterance) -> None:
        self.stage._line_end(utterance)
