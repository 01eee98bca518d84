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
from dataclasses import dataclass

from rtvoice.metrics.percentiles import Reservoir, percentiles
from rtvoice.metrics.simultaneous import VoiceOutput, simultaneous_figures
from rtvoice.audio.sources import SAMPLE_RATE
from rtvoice.pipeline.pacing import LateLines, PacingConfig, plan_line
from rtvoice.tts.duration import DurationModel
from rtvoice.tts.fitting import trim_piece
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
        self.line_times: list[float] = []  # when each of them started (s into the source), for the lag's trend
        self.episodes = 0  # times it went over the threshold
        self.longest_s = 0.0  # longest time spent over it
        self._behind_since: float | None = None
        self._worst = 0.0
        self._lock = threading.Lock()

    LINES_KEPT = 1000

    def observe(self, now: float, lag_s: float, waiting: int, line_start: bool = False,
                at_s: float | None = None) -> None:
        """A look at the lag (s) at wall time ``now`` with ``waiting`` lines queued (``at_s``: a line start's
        time into the source)."""
        with self._lock:
            self.samples.append(lag_s)
            if line_start and len(self.line_lags) < self.LINES_KEPT:
                self.line_lags.append(round(lag_s, 4))
                self.line_times.append(round(at_s, 4) if at_s is not None else None)
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
                    "voice_behind_line_start_s": list(self.line_lags),
                    "voice_behind_line_start_at_s": list(self.line_times)}


@dataclass(eq=False)
class _Line:
    """A line given to the voice, live: its source speech on the wall clock (the programme's: shifted by
    --program-delay), what it was given and when it started."""

    event: object
    utterance: object
    start: float  # wall time its source speech started (+ programme delay)
    end: float  # wall time its source speech ended (+ programme delay)
    given: str  # the text it was given
    phonemes: int = 0  # of the text it says
    started: float | None = None  # wall time a listener hears its first sample (decided in _admit)


class DubStage:
    """Caption stage for ``rtvoice dub`` (see rtvoice.commands.caption.CaptionStage).

    Args:
        engine: a started-or-not TtsEngine whose sinks are the outputs (speaker, dubbed track).
        timeline: the engine's TimelineSink, if a dubbed track is written (for its placement clock).
        lag: how far behind the speaker the voice runs (live sources); default threshold 2 s, logged.
        catch_up: live sources, without ``pacing``: a line that would start more than the lag threshold behind
            the speaker is spoken this much faster (the voice's own speed control; 1.0: never). The older,
            fixed rule that ``pacing`` replaces.
        prepare_ahead: let a translation stage before this one have the voice synthesise a line's first piece
            ahead, from the translation of its partial captions (rtvoice.pipeline.speculation; only voices that
            cannot stream inside a piece, i.e. Kokoro, do it). Never changes what is said.
        pacing: live sources: keep the voice within a bounded lag of the speaker (rtvoice.pipeline.pacing):
            each line's speed chosen from its predicted duration and its slot, condensed or dropped when it
            cannot fit; the silence around synthesised lines trimmed. None: off.
        program_delay_s: the programme (source audio and captions) goes out this much later than it is
            captured (a broadcaster's delay): lines are placed, held and their lag counted against their
            source times plus this delay.
        units: live and paced, with a translation stage before it: the lines it is given are cut at clause ends
            before their final (rtvoice.pipeline.units.UnitConfig; ``line_units`` once attached), so a long
            sentence is started while the speaker is still saying it. None: one line per final caption.
        on_cut: called with a ``voice_lag`` record (a dict) for each line condensed or dropped, from the voice's
            worker thread (the terminal, a socket); they are logged too, and written to ``event_outputs``
            (writers with ``write_record``, e.g. the dubbed language's JSONL; rtvoice.commands.caption adds them).
    """

    LINES_KEPT = 32
    HANDOFFS_KEPT = 1000
    CUTS_KEPT = 1000
    FIRST_PIECE_PRIOR_S = 0.5  # the voice's time to its first sample before one was measured
    RTF_PRIOR = 0.5  # and its real-time factor (Kokoro on 2 free cores: 0.5)

    def __init__(self, engine, timeline=None, lag: VoiceLag | None = None, catch_up: float = 1.0,
                 prepare_ahead: bool = True, pacing: PacingConfig | None = None, program_delay_s: float = 0.0,
                 on_cut: Callable[[dict], None] | None = None, caster=None, units=None):
        if not 1.0 <= catch_up <= 2.0:
            raise ValueError(f"the catch-up speed-up must be within 1..2, got {catch_up}")
        if pacing is not None and catch_up > 1.0:
            raise ValueError("the fixed catch-up rule and pacing exclude each other (pacing speeds lines up itself)")
        if not program_delay_s >= 0:
            raise ValueError(f"the programme delay must be >= 0 s, got {program_delay_s}")
        self.engine = engine
        self.timeline = timeline
        self.lag = lag or VoiceLag()
        self.catch_up = catch_up
        self.pacing = pacing
        self._late = LateLines(pacing) if pacing is not None else None  # lines allowed past the bound
        self.program_delay_s = program_delay_s
        self.on_cut = on_cut
        self.caster = caster  # rtvoice.pipeline.casting.VoiceCaster: a voice of the speaker's sex per line
        self.units = units
        self.event_outputs: list = []
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
        # pacing (live): lines not taken up by the voice yet, in order; those taken up, until spoken or dropped
        self._pending: deque[_Line] = deque()
        self._live_lines: dict[int, _Line] = {}  # utterance id -> line, until it is spoken or dropped
        self.duration = DurationModel(engine.voice) if pacing is not None else None
        self._first_piece_s = self.FIRST_PIECE_PRIOR_S
        self._rtf = self.RTF_PRIOR  # the voice's synthesis seconds per second of its audio, lately
        self._last_speedup = 1.0
        self.condensed_lines = 0
        self.dropped_lines = 0
        self.words_given = 0
        self.words_spoken = 0
        self.cuts: list[dict] = []  # the first CUTS_KEPT voice_lag records
        self._speedups = Reservoir()
        self.outputs: list[VoiceOutput] = []  # every line heard: (s into the source, s long), for SimulEval's figures
        self._source_end_s: float | None = None  # end of the last source speech, s into the source
        self._emitted: dict[int, float] = {}  # utterance id -> wall time its first audio was out
        self._cut_lock = threading.Lock()

    def attach(self, source) -> list:
        self._source = source
        if source is not None and source.live and (self.pacing is not None or self.program_delay_s > 0):
            self.engine.pacer = _Pacer(self)
            if self.pacing is not None:  # the voice's own rate and speed, before the first line needs them
                self._rtf = self.duration.calibrate(self.engine.synthesizer, getattr(self.engine.voice, "language",
                                                                                    None))
        self.engine.start()
        return [self]

    @property
    def line_units(self):
        """`units` once attached to a live source with pacing (read by the translation stage before it)."""
        return self.units if self._paced else None

    @property
    def _paced(self) -> bool:
        return self.engine.pacer is not None and self.pacing is not None

    def write(self, event) -> None:
        if not event.is_final or not event.text.strip():
            return
        if self.timeline is not None and self.timeline.clock_origin is None and self._source.live:
            anchor = self._source.clock.anchor
            if anchor is not None:  # lines placed no earlier than their audio was ready
                self.timeline.clock_origin = anchor - self._wall_minus_perf
        end = self._speech_end_wall(event)
        speedup = 1.0 if self.engine.pacer is not None else self._catch_up_speedup(end)
        if end is not None and self.engine.pacer is not None:
            line = _Line(event, None, self._source.clock.wall_time(int(round(event.start * SAMPLE_RATE)))
                         + self.program_delay_s, end, event.text)
            with self._lag_lock:  # before the voice can take it up
                self._pending.append(line)
        speaker = self.caster.cast(event) if self.caster is not None else None
        try:
            utterance = self.engine.speak(event.text, tag=event, speedup=speedup, speaker=speaker)
        except Exception as error:  # an earlier line failed to synthesise: report it, the chain goes on
            log.warning("voice: a line failed (%s); captions and the following lines go on", error)
            utterance = self.engine.speak(event.text, tag=event, speedup=speedup, speaker=speaker)
        self.caught_up_lines += speedup > 1.0
        self.words_given += len(event.text.split())
        self.lines.append((event, utterance))
        self._unsettled.append((event, utterance))
        if end is not None:
            with self._lag_lock:
                self._waiting.append((utterance, end))
                self._source_end_s = max(self._source_end_s or 0.0, event.end)
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
        a line whose speech ends now would get (paced: the speed of the line before); True when it
        synthesised one (the voice was idle)."""
        live = self._source is not None and self._source.live
        speedup = self._last_speedup if self._paced else self._catch_up_speedup(time.time() if live else None)
        return self.engine.prepare_first_piece(text, speedup, speaker=self._current_speaker())

    @property
    def needs_final_audio(self) -> bool:
        """Whether finals must carry their audio (casting reads the speaker's pitch from it)."""
        return self.caster is not None

    def _current_speaker(self) -> str | None:
        """The voice the next line will most likely get: the one cast now (None: the voice's own)."""
        if self.caster is None or self.caster.current is None:
            return None
        return self.caster.voices[self.caster.current]

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

    # ---------------------------------------------------------------- pacing (the voice's worker thread)
    def _take(self, utterance) -> _Line | None:
        """The pending line of `utterance` (matched by its caption, its tag: the voice may take it up before
        ``speak`` has returned), dropping any before it (the voice takes lines up in order)."""
        with self._lag_lock:
            while self._pending and self._pending[0].event is not utterance.tag:
                self._pending.popleft()
            if not self._pending:
                return None
            line = self._pending.popleft()
            line.utterance = utterance
            self._live_lines[utterance.id] = line
            return line

    def _plan(self, utterance) -> bool:
        """When the voice takes a line up: its speed, text, or that it is dropped (rtvoice.pipeline.pacing)."""
        line = self._take(utterance)
        if line is None or self.pacing is None:
            return True
        with self._lag_lock:
            voice_free = self._play_end
            following = self._pending[0].start if self._pending else None
            following_end = self._pending[0].end if self._pending else None
        base = self.engine.synthesizer.options.speed
        counts: dict[str, int] = {}

        compute_bound = max(1.0, self._rtf)  # a voice slower than real time is free when its synthesis is done

        def predict(text: str, speedup: float) -> float:
            if text not in counts:
                counts[text] = self.duration.phonemes(text)
            return self.duration.predict(phonemes=counts[text], speed=base * speedup) * compute_bound

        plan = plan_line(self.pacing, utterance.text, predict, now=time.time(), voice_free=voice_free,
                         first_piece_s=self._first_piece_s, source_start=line.start, source_end=line.end,
                         next_source_start=following, next_source_end=following_end,
                         limit_s=self._late.limit_s())
        if plan.dropped:
            self._cut(line, "dropped", plan.lag_s, f"it would start {plan.lag_s:.1f} s behind its source")
            return False
        if plan.condensed:
            utterance.text = plan.text
            self._cut(line, "condensed", plan.lag_s, f"{len(line.given.split())} -> {len(plan.text.split())} words "
                                                       f"to keep within {self.pacing.max_voice_lag_s:g} s")
        line.phonemes = counts.get(plan.text) or self.duration.phonemes(plan.text)
        utterance.speedup = self._prepared_speedup(plan.text, plan.speedup, base, utterance.speaker)
        self._last_speedup = utterance.speedup
        self._speedups.append(utterance.speedup)
        return True

    PREPARED_SLACK = 0.15  # a line may be spoken this much slower than planned to start with a prepared piece

    def _prepared_speedup(self, text: str, speedup: float, base: float, speaker: str | None = None) -> float:
        """``speedup``, or the speed-up of a first piece of ``text`` prepared ahead (rtvoice.tts.prepared) when it is
        within PREPARED_SLACK below it or faster (within the limit): starting at once saves the whole first-piece
        synthesis, more than the slack costs."""
        synthesizer = self.engine.synthesizer
        if not self.engine.can_prepare:
            return speedup
        from rtvoice.tts.synthesis import SynthesisReport

        speaker = speaker or getattr(self.engine.voice, "speaker", None)
        ids = next((ids for _, _, ids in synthesizer.pieces(text, SynthesisReport(), speaker=speaker)), None)
        if not ids:
            return speedup
        ready = [s / base for s in synthesizer.prepared.speeds(tuple(ids), speaker)]
        usable = [s for s in ready if speedup - self.PREPARED_SLACK <= s <= self.pacing.max_speedup + 1e-6]
        return min(usable, key=lambda s: abs(s - speedup)) if usable else speedup

    def _admit(self, utterance) -> bool:
        """The line's first audio is ready: hold it until its source speech starts in the programme (with a
        programme delay), and drop it if it would start more than the bound behind its source."""
        now = time.time()
        line = self._live_lines.get(utterance.id)
        if line is None:
            return True
        first_piece = time.perf_counter() - utterance.t_started
        self._first_piece_s += 0.3 * (first_piece - self._first_piece_s)
        if self.program_delay_s > 0 and now < line.start:
            time.sleep(line.start - now)
            now = time.time()
        with self._lag_lock:
            start = max(now, self._play_end)
        if self.pacing is not None:
            if start - line.end > self._late.limit_s():
                self._cut(line, "dropped", start - line.end, f"its first audio came {start - line.end:.1f} s "
                                                               f"behind its source")
                return False
            self._late.start(start - line.end)
        line.started = start
        return True

    def _shape(self, utterance, chunk):
        """Silence trimmed at the ends of each synthesised piece (paced voices only)."""
        if not self._paced:
            return chunk.samples
        return trim_piece(chunk.samples, self.engine.voice.sample_rate, chunk.first_of_piece, chunk.last_of_piece)

    def _cut(self, line: _Line, action: str, lag_s: float, why: str) -> None:
        """Count, say and emit a condensed or dropped line (never silent)."""
        utterance = line.utterance
        record = {"type": "voice_lag", "action": action, "segment": getattr(line.event, "segment", None),
                  "language": getattr(line.event, "language", None), "text": line.given,
                  "spoken": utterance.text if action == "condensed" else None, "lag_s": round(lag_s, 3),
                  "message": f"voice: line {action} ({why}): {line.given!r}"}
        with self._cut_lock:
            if action == "dropped":
                self.dropped_lines += 1
                self._live_lines.pop(utterance.id, None)
            else:
                self.condensed_lines += 1
            if len(self.cuts) < self.CUTS_KEPT:
                self.cuts.append(record)
        log.info("%s", record["message"])
        for output in self.event_outputs:
            output.write_record(dict(record))
        if self.on_cut is not None:
            try:
                self.on_cut(record)
            except Exception as error:  # noqa: BLE001 - an output failing must not stop the voice
                log.warning("voice: could not report a %s line (%s)", action, error)

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
        line = self._live_lines.get(utterance.id) if not offset else None
        with self._lag_lock:
            start = max(now, self._play_end)
            if line is not None and line.started is not None:
                start = line.started  # decided when it was admitted, a few ms ago (no audio out in between)
            self._play_end = start + seconds
            if offset:
                return
            self._emitted[utterance.id] = now
            entry = next(((u, end) for u, end in self._waiting if u is utterance), None)
            if entry is None:
                return
            self._waiting.remove(entry)
            waiting = sum(1 for u, _ in self._waiting if not u.done)
        origin = self._source.clock.wall_time(0)
        self.lag.observe(now, start - entry[1], waiting, line_start=True, at_s=start - origin)

    def _line_end(self, utterance) -> None:
        with self._lag_lock:
            self._waiting = deque((u, end) for u, end in self._waiting if u is not utterance and not u.done)
            emitted = self._emitted.pop(utterance.id, None)
        line = self._live_lines.pop(utterance.id, None)
        if utterance.samples:
            seconds = utterance.samples / self.engine.voice.sample_rate
            with self._cut_lock:
                self.words_spoken += len(utterance.text.split())
                if emitted is not None and self._source is not None and self._source.live:
                    self.outputs.append(VoiceOutput(emitted - self._source.clock.wall_time(0), seconds))
            if line is not None:
                if seconds > 0.3:
                    self._rtf += 0.3 * (utterance.compute_s / seconds - self._rtf)
                if self.duration is not None and line.phonemes and not self.engine._cancel.is_set():
                    self.duration.observe(line.phonemes, seconds,
                                          self.engine.synthesizer.options.speed * utterance.speedup)
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
        """Wall time the event's source speech ended, in the programme (plus the programme delay)."""
        if self._source is None or not self._source.live:
            return None
        return self._source.clock.wall_time(int(round(event.end * SAMPLE_RATE))) + self.program_delay_s

    def latencies(self) -> Reservoir:
        """Dub latency (s) of every line spoken so far (a uniform sample of them past 4096 lines)."""
        self._settle()
        return self._latencies

    def simultaneous(self) -> dict:
        """SimulEval's figures for the voice heard so far (rtvoice.metrics.simultaneous), live sources."""
        with self._cut_lock:
            outputs = list(self.outputs)
        lags, times = self.lag.line_lags, self.lag.line_times
        pairs = [(t, lag) for t, lag in zip(times, lags) if t is not None]
        source_end = None if self._source_end_s is None else self._source_end_s + self.program_delay_s
        return simultaneous_figures(outputs, source_end, [t for t, _ in pairs], [lag for _, lag in pairs])

    def pacing_stats(self) -> dict:
        with self._cut_lock:
            given, spoken = self.words_given, self.words_spoken
            out = {"words_given": given, "words_spoken": spoken,
                   "words_spoken_share": round(spoken / given, 4) if given else None,
                   "lines_condensed": self.condensed_lines, "lines_dropped": self.dropped_lines,
                   "lines_late": self._late.late if self._late is not None else 0,
                   "program_delay_s": self.program_delay_s}
        if self.pacing is not None:
            out.update({"max_voice_lag_s": self.pacing.max_voice_lag_s, "max_speedup": self.pacing.max_speedup,
                        "target_lag_s": round(self.pacing.target_lag_s, 3), "condense": self.pacing.condense,
                        "late_share": self.pacing.late_share, "late_by_s": self.pacing.late_by_s,
                        "speedup": percentiles(self._speedups),
                        "s_per_phoneme": round(self.duration.s_per_phoneme, 4),
                        "first_piece_s": round(self._first_piece_s, 3), "rtf": round(self._rtf, 3)})
        return out

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
            "dub_pacing": self.pacing_stats(),
            "dub_cut_lines": list(self.cuts),
            "simultaneous": self.simultaneous(),
            "dub_handoffs": list(self.handoffs),
            **(self.caster.stats() if self.caster is not None else {}),
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
        starts = percentiles(s["voice_behind_line_start_s"])
        sim = s["simultaneous"]
        if starts["n"]:
            slope = sim["lag_slope_s_per_min"]
            lines.append(f"voice behind the speaker at line starts: p50 {starts['p50']:.2f} s, p95 {starts['p95']:.2f} "
                         f"s, max {starts['max']:.2f} s; trend "
                         + ("n/a" if slope is None else f"{slope:+.2f} s/min"))
        if sim["outputs"]:
            end = sim["end_offset_s"]
            lines.append(f"voice, SimulEval's figures: StartOffset {sim['start_offset_s']:.2f} s, EndOffset "
                         + ("n/a" if end is None else f"{end:.2f} s")
                         + f", ATD {sim['atd_s']:.2f} s (computation-aware, 300 ms tokens)")
        pacing = s["dub_pacing"]
        if self.pacing is not None and self._paced:
            speedup = pacing["speedup"]
            share = pacing["words_spoken_share"]
            lines.append(f"voice pacing (at most {self.pacing.max_voice_lag_s:g} s behind): speed-up p50 "
                         f"{speedup['p50'] or 1:.2f}x, max {speedup['max'] or 1:.2f}x; {pacing['lines_condensed']} "
                         f"line(s) condensed, {pacing['lines_dropped']} dropped, {pacing['lines_late']} started "
                         f"late (up to {self.pacing.late_by_s:g} s past the bound); "
                         + ("" if share is None else f"{share * 100:.1f}% of the words spoken ({pacing['words_spoken']}"
                                                     f" of {pacing['words_given']})"))
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
        if self.caster is not None:
            lines.append(self.caster.report_line())
        return lines


class _LagSink(AudioSink):
    """Engine sink that tells the DubStage when each line's audio comes out (for :class:`VoiceLag`)."""

    def __init__(self, stage: DubStage) -> None:
        self.stage = stage

    def write(self, utterance, samples, offset: int) -> None:
        self.stage._line_audio(utterance, len(samples), offset)

    def end(self, utterance) -> None:
        self.stage._line_end(utterance)


class _Pacer:
    """The engine's pacer (rtvoice.tts.TtsEngine.pacer) for a live DubStage."""

    def __init__(self, stage: DubStage) -> None:
        self.stage = stage

    def plan(self, utterance) -> bool:
        return self.stage._plan(utterance)

    def admit(self, utterance) -> bool:
        return self.stage._admit(utterance)

    def shape(self, utterance, chunk):
        return self.stage._shape(utterance, chunk)
