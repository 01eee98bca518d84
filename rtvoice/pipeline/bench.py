"""``rtvoice bench``: the whole chain on recorded speech, with latency per stage and end to end.

file source → front end (C++: VAD, endpointer) → streaming ASR (partials, finals) → TTS first audio → the
voice's output, for each input in turn, with the same models loaded once. Latency samples are pooled over
all inputs before percentiles are taken.

Figures (flat names, seconds unless stated; the JSON's ``figures``):

- ``caption_first_shown_{p50,p95,p99,max}_s``: a word's end as spoken → first shown (partial or final)
- ``caption_committed_*_s``: a word's end → committed (never changes again)
- ``caption_final_*_s``: end of speech → final caption
- ``tts_first_audio_*_s``: final caption text ready → first voice sample (queueing included)
- ``dub_*_s``: end of source speech → first dubbed sample (end to end)
- ``frontend_rtf``, ``asr_rtf``, ``tts_rtf``: compute seconds per audio second, per stage
- ``dropped_samples``, ``underruns``, ``skipped_partials``, ``*_high_water``: losses and queue peaks
- ``voice_behind_line_start_{p50,p95,max}_s`` (real clock): the voice's lag behind the speaker at each line
  start, pooled; ``voice_start_offset_s``, ``voice_end_offset_s``, ``voice_atd_s``: SimulEval's StartOffset,
  EndOffset and computation-aware ATD of the dubbed voice (rtvoice.metrics.simultaneous; the mean over inputs,
  as SimulEval's over instances); ``voice_lag_slope_s_per_min``: the lag's trend over each input (mean);
  ``voice_words_spoken_share``, ``voice_lines_condensed``, ``voice_lines_dropped``: what pacing (``--max-voice-lag``,
  rtvoice.pipeline.pacing) cost
- ``wer``: caption word error rate against the references (when the inputs have them)
- ``offline_wer``, ``wer_ratio`` (= wer / offline_wer), ``offline_rtf``: the peer, in the same run: the same
  inputs decoded offline, long-form, by the same model (faster-whisper's ``transcribe``, greedy,
  ``condition_on_previous_text``; :func:`offline_long_form`); absent without faster-whisper
- ``callback_{p50,p99,max}_s``, ``callbacks``: duration of the PortAudio callbacks (the worse of playback and
  capture; ``playback_callback_*``/``capture_callback_*`` each side), with ``--audio-device NAME``: the voice
  then also plays on that device and the device is captured meanwhile (rtvoice.audio.callback_timing), timed while
  each input runs through the chain (from the pipeline's start until its voice is drained; not while the
  next input's objects are set up). ``None`` (n/a) without a device: file input runs no callback. Timed
  from PortAudio's timestamp (see rtvoice.audio.callback_timing); with native callbacks (the report's
  ``audio_callbacks``: "native", rtvoice.audio.native) also ``{playback,capture}_callback_entry_{p99,max}_s``:
  native entry to exit only.

``--clock virtual`` (see rtvoice.metrics.clock) feeds audio as fast as compute allows; the dub figure is then the
final caption's virtual latency plus the voice's measured first-audio time. ``--clock compute-free`` does the same
on a virtual clock that counts no compute: the captions' latencies are the streaming policy's own, identical on
any machine (a CI gate on the policy, free of the host's speed); the voice's first-audio time is still measured.
"""

from __future__ import annotations

import csv
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from rtvoice.errors import RtvoiceError
from rtvoice.metrics.clock import CLOCKS
from rtvoice.metrics.percentiles import percentiles

SCHEMA = "rtvoice-bench"
SCHEMA_VERSION = 1
LATENCY_FIGURES = ("caption_first_shown", "caption_committed", "caption_final", "tts_first_audio", "dub")
STAGE_LABELS = {
    "caption_first_shown": "word spoken → first shown",
    "caption_committed": "word spoken → committed",
    "caption_final": "end of speech → final caption",
    "tts_first_audio": "final text → first voice sample",
    "dub": "end of speech → first dubbed sample",
}


@dataclass(frozen=True)
class BenchInput:
    id: str
    path: Path
    reference: str | None = None  # transcript, for WER


def load_inputs(files: list[Path], dataset: Path | None) -> list[BenchInput]:
    """Inputs from --input FILE (repeatable) and --dataset DIR (a manifest.tsv with id, wav, transcript)."""
    inputs = [BenchInput(Path(f).stem, Path(f)) for f in files]
    if dataset is not None:
        manifest = Path(dataset) / "manifest.tsv"
        if not manifest.is_file():
            raise RtvoiceError(f"{dataset} has no manifest.tsv (columns: id, wav, transcript)")
        with open(manifest, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if "wav" not in row:
                    raise RtvoiceError(f"{manifest} needs a 'wav' column")
                inputs.append(BenchInput(row.get("id") or Path(row["wav"]).stem, Path(dataset) / row["wav"],
                                         row.get("transcript") or None))
    if not inputs:
        raise RtvoiceError("nothing to benchmark: give --input FILE or --dataset DIR")
    for item in inputs:
        if not item.path.is_file():
            raise RtvoiceError(f"input {item.path} not found")
    return inputs


class _Finals:
    def __init__(self):
        self.texts: list[str] = []
        self.timeline: list[dict] = []

    def write(self, event) -> None:
        self.timeline.append({"kind": event.kind, "segment": event.segment, "start": event.start, "end": event.end,
                              "emitted": event.emitted_at, "text": event.text})
        if event.is_final:
            self.texts.append(event.text)


class _DeviceLoad:
    """``--audio-device``: the voice also plays through a real PlaybackSink on the device, and the device is
    captured with a MicSource at the same time (its audio is read and thrown away), so both PortAudio
    callbacks run, and are timed, while the chain runs at full load."""

    def __init__(self, device: str):
        from rtvoice import RingBuffer
        from rtvoice.audio.sources import MicSource
        from rtvoice.tts import PlaybackSink

        self.playback = PlaybackSink(device=device)
        self.capture = MicSource(device)
        self._ring = RingBuffer(1 << 16)
        self._stop = None
        self.measuring(False)

    def measuring(self, on: bool) -> None:
        """Time the callbacks only while an input runs through the chain (not while the next one is set up:
        loading the VAD, opening the output stream, which hold the GIL for tens of ms, as a live session
        does once before it starts)."""
        self.playback.meter.enabled = on  # the native entry meters follow these
        self.capture.stats.meter.enabled = on

    def start(self) -> None:
        import threading

        self.capture.start(self._ring)
        self._stop = threading.Event()
        self._drain = threading.Thread(target=self._drain_loop, name="rtvoice-bench-drain", daemon=True)
        self._drain.start()

    def _drain_loop(self) -> None:
        while not self._stop.wait(0.05):
            self._ring.discard()

    def close(self) -> dict:
        from rtvoice.audio.callback_timing import callback_stats

        self.capture.stop()
        self.capture.join(5)
        self._stop.set()
        self._drain.join()
        self.playback.close()
        if self.capture.error is not None:
            raise self.capture.error
        from rtvoice.audio.callback_timing import entry_stats

        playback = {**callback_stats(self.playback.meter),
                    **entry_stats(self.playback.entry_meter, "native" if self.playback.native else "python")}
        capture = {**callback_stats(self.capture.stats.meter),
                   **entry_stats(self.capture.stats.entry_meter, "native" if self.capture.native else "python")}
        return {"playback": playback, "capture": capture, "device": self.playback.device_name}


def _callback_figures(measured: dict | None) -> dict:
    """``callback_{p50,p99,max}_s`` (the worse of capture and playback), ``callbacks``, and per side."""
    figures: dict[str, float | int | None] = {}
    sides = ("playback", "capture")
    for side in sides:
        s = (measured or {}).get(side) or {}
        figures[f"{side}_callbacks"] = s.get("callbacks", 0)
        for q in ("p50", "p99", "max"):
            v = s.get(f"callback_{q}_ms")
            figures[f"{side}_callback_{q}_s"] = None if v is None else round(v / 1e3, 7)
        for q in ("p99", "max"):  # native callbacks: native entry to exit only (None for Python callbacks)
            v = s.get(f"callback_entry_{q}_ms")
            figures[f"{side}_callback_entry_{q}_s"] = None if v is None else round(v / 1e3, 7)
    for q in ("p50", "p99", "max"):
        values = [figures[f"{side}_callback_{q}_s"] for side in sides if figures[f"{side}_callback_{q}_s"] is not None]
        figures[f"callback_{q}_s"] = max(values) if values else None
    figures["callbacks"] = sum(figures[f"{side}_callbacks"] for side in sides)
    return figures


def offline_long_form(recognizer, paths: list[Path], progress=print) -> tuple[list[str], float] | None:
    """The same audio decoded offline by the same model, long-form: faster-whisper's ``WhisperModel.transcribe``
    on the recognizer's CTranslate2 directory and device, greedy, ``condition_on_previous_text`` (Whisper's
    own policy over a whole recording: 30 s windows, the previous text as the prompt, seeking by
    timestamps), no VAD filter. Returns (texts, compute seconds), or None without faster-whisper."""
    try:
        import faster_whisper
    except ImportError:
        progress("offline peer: faster-whisper is not installed (requirements/dev.txt): no offline WER")
        return None
    threads = recognizer.config.threads
    model = faster_whisper.WhisperModel(str(recognizer.model_dir), device=recognizer.device,
                                        compute_type=recognizer.compute_type, cpu_threads=threads)
    texts, t0 = [], time.perf_counter()
    for path in paths:
        language = recognizer.config.language if recognizer.multilingual else "en"
        segments, _ = model.transcribe(str(path), beam_size=recognizer.config.beam_size, language=language,
                                       condition_on_previous_text=True, vad_filter=False)
        texts.append(" ".join(segment.text.strip() for segment in segments))
    return texts, time.perf_counter() - t0


def run_bench(inputs: list[BenchInput], clock: str = "real", progress=print, whisper_config=None,
              voice_path: Path | None = None, audio_device: str | None = None, streaming_config=None,
              translate_to: str | None = None, mt: str = "auto", max_voice_lag_s: float | None = 3.0) -> dict:
    """Run every input through the chain; returns the JSON report (see the module docstring). With
    ``translate_to``, finals are translated (rtvoice.pipeline.translation) and the voice speaks the
    translation (Kokoro for es/pt unless ``voice_path``); ``translation_*`` figures are added."""
    import jiwer

    from rtvoice.asr import StreamingConfig, WhisperConfig, WhisperRecognizer
    from rtvoice.metrics.text import normalize_english
    from rtvoice.pipeline.dubbing import DubStage
    from rtvoice.pipeline.units import UnitConfig
    from rtvoice.pipeline.pacing import PacingConfig
    from rtvoice.pipeline.engine import CaptionPipeline, PipelineConfig
    from rtvoice.audio.sources import FileSource
    from rtvoice.tts import CallbackSink, SynthesisOptions, TtsEngine, load_voice

    if clock not in CLOCKS:
        raise RtvoiceError(f"--clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    device = _DeviceLoad(audio_device) if audio_device is not None else None  # a bad device fails before models load
    recognizer = WhisperRecognizer(whisper_config or WhisperConfig())
    streaming_config = streaming_config or StreamingConfig()
    translator = None
    if translate_to is not None:
        from rtvoice.pipeline.translation import TranslatorRouter

        translator = TranslatorRouter.for_stream(translate_to, recognizer, mt)
        streaming_config = translator.streaming_config(streaming_config)
    if translate_to in ("es", "pt") and voice_path is None:
        from rtvoice.tts.kokoro import KokoroVoice

        voice = KokoroVoice(translate_to)
    else:
        voice = load_voice(voice_path)
    translation_ms, translation_wait = [], []
    samples = {name: [] for name in LATENCY_FIGURES}
    totals = {"audio_s": 0.0, "wall_s": 0.0, "frontend_busy_s": 0.0, "asr_decode_s": 0.0, "tts_compute_s": 0.0,
              "tts_audio_s": 0.0, "dropped_samples": 0, "underruns": 0, "skipped_partials": 0}
    high_water: dict[str, int] = {}
    per_input, refs, hyps, timeline = [], [], [], None
    voice_lags, simultaneous, pacing_totals = [], [], {"words_given": 0, "words_spoken": 0, "lines_condensed": 0,
                                                       "lines_dropped": 0}
    pacing = PacingConfig(max_voice_lag_s) if clock == "real" and max_voice_lag_s is not None else None
    if device is not None:
        device.start()
    for n, item in enumerate(inputs, 1):
        source = FileSource(item.path, realtime=(clock == "real"))
        finals = _Finals()
        sinks = [CallbackSink(lambda utterance, samples, offset: None)]
        if device is not None:
            sinks.append(device.playback)  # reopened per input; its callback meter spans the whole run
        engine = TtsEngine(voice, SynthesisOptions(), sinks)
        dub = DubStage(engine, pacing=pacing, units=UnitConfig() if pacing is not None else None)  # as rtvoice dub
        if translator is not None:
            from rtvoice.pipeline.translation import TranslationStage

            stage = TranslationStage(translator, [], next_stage=dub, owns_translator=False)
        else:
            stage = dub
        listeners = stage.attach(source)
        pipeline = CaptionPipeline(source, recognizer, [finals, *listeners], streaming_config,
                                   config=PipelineConfig(clock=clock))
        if device is not None:
            device.measuring(True)
        stats = pipeline.run()
        if device is not None:
            engine.drain()  # the last line's voice heard, then the output stream is closed unmeasured
            device.measuring(False)
        stage.finish(interrupted=False)
        if translator is not None:
            translation_ms += stage.line_ms
            translation_wait += stage.final_to_translation_s
        stage = dub
        tracker = pipeline.latency
        samples["caption_first_shown"] += tracker.word_first_shown
        samples["caption_committed"] += tracker.word_committed
        samples["caption_final"] += tracker.final_after_speech_end
        stage.latencies()  # every spoken line summarised
        samples["tts_first_audio"] += stage.tts_first_audio
        samples["dub"] += stage.latencies() if clock == "real" else stage.caption_plus_tts
        tts = engine.stats()
        if clock == "real":
            voice_lags += stage.lag.line_lags
            simultaneous.append(stage.simultaneous())
            for key, value in stage.pacing_stats().items():
                if key in pacing_totals:
                    pacing_totals[key] += value
        fe, asr = stats["frontend"], pipeline.streaming.stats
        totals["audio_s"] += stats["audio_seconds"]
        totals["wall_s"] += stats["wall_seconds"]
        totals["frontend_busy_s"] += fe["busy_seconds"]
        totals["asr_decode_s"] += asr.partial_decode_s.total + asr.final_decode_s.total
        totals["tts_compute_s"] += tts["compute_s"]
        totals["tts_audio_s"] += tts["audio_s"]
        totals["dropped_samples"] += (stats["source"].get("dropped", 0) + fe["input_overflow"]
                                      + fe["audio_dropped_samples"])
        totals["underruns"] += tts["underruns"]
        totals["skipped_partials"] += asr.skipped_partials
        for key, value in fe.items():
            if key.endswith("high_water"):
                high_water[key] = max(high_water.get(key, 0), int(value))
        hypothesis = " ".join(finals.texts)
        if item.reference is not None:
            refs.append(normalize_english(item.reference))
            hyps.append(normalize_english(hypothesis))
        if timeline is None and stage.lines:
            event, utt = stage.lines[0]
            origin = source.clock.anchor if clock == "real" else 0.0  # capture time of stream sample 0
            timeline = {"input": item.id, "tts_first_audio_after_final_s": utt.end_to_end_first_audio_s,
                        "events": [{**e, "emitted": e["emitted"] - origin} for e in finals.timeline
                                   if e["segment"] == event.segment and origin is not None]}
        per_input.append({"id": item.id, "path": str(item.path), "audio_s": stats["audio_seconds"],
                          "text": hypothesis, "reference": item.reference})
        progress(f"[{n}/{len(inputs)}] {item.id}: {stats['audio_seconds']:.1f} s of audio in "
                 f"{stats['wall_seconds']:.1f} s, {len(finals.texts)} caption(s)")

    measured = device.close() if device is not None else None

    figures: dict[str, float | int | None] = {}
    for name in LATENCY_FIGURES:
        p = percentiles(samples[name])
        for q in ("p50", "p95", "p99", "max"):
            figures[f"{name}_{q}_s"] = p[q]
        figures[f"{name}_n"] = p["n"]
    audio = totals["audio_s"] or float("nan")
    figures["frontend_rtf"] = round(totals["frontend_busy_s"] / audio, 5)
    figures["asr_rtf"] = round(totals["asr_decode_s"] / audio, 4)
    figures["tts_rtf"] = round(totals["tts_compute_s"] / totals["tts_audio_s"], 4) if totals["tts_audio_s"] else None
    for key in ("dropped_samples", "underruns", "skipped_partials"):
        figures[key] = totals[key]
    figures.update(high_water)
    if translator is not None:
        ms, wait = percentiles(translation_ms), percentiles(translation_wait)
        figures.update({"translation_ms_p50": ms["p50"], "translation_ms_p95": ms["p95"], "translation_n": ms["n"],
                        "final_to_translation_p50_s": wait["p50"], "final_to_translation_p95_s": wait["p95"]})
        translator.close()
    figures.update(_voice_figures(voice_lags, simultaneous, pacing_totals) if clock == "real" else {})
    figures["audio_seconds"] = round(totals["audio_s"], 3)
    figures["wall_seconds"] = round(totals["wall_s"], 3)
    if refs:
        figures["wer"] = round(float(jiwer.wer(refs, hyps)), 4)
        scored = [i for i, item in enumerate(inputs) if item.reference is not None]
        offline = offline_long_form(recognizer, [inputs[i].path for i in scored], progress)
        if offline is not None:
            texts, seconds = offline
            for i, text in zip(scored, texts):
                per_input[i]["offline_text"] = text
            figures["offline_wer"] = round(float(jiwer.wer(refs, [normalize_english(t) for t in texts])), 4)
            figures["wer_ratio"] = round(figures["wer"] / figures["offline_wer"], 3) if figures["offline_wer"] else None
            figures["offline_rtf"] = round(seconds / audio, 4)
    figures.update(_callback_figures(measured))
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "clock": clock,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "python": platform.python_version()},
        "models": {"asr": recognizer.describe(), "voice": voice.name, "voice_device": voice.device,
                   "translation": None if translator is None else translator.describe()},
        "audio_device": None if measured is None else measured["device"],
        "audio_callbacks": None if measured is None else measured["capture"]["callback_path"],
        "figures": figures,
        "inputs": per_input,
        "latency_samples_s": {k: [round(v, 4) for v in samples[k]] for k in LATENCY_FIGURES},
        "timeline": timeline,
    }


def _voice_figures(lags: list[float], simultaneous: list[dict], pacing: dict) -> dict:
    """The voice's pace figures (module docstring) from each input's line-start lags and SimulEval figures."""
    p = percentiles(lags)
    figures = {"voice_behind_line_start_p50_s": p["p50"], "voice_behind_line_start_p95_s": p["p95"],
               "voice_behind_line_start_max_s": p["max"]}
    for name, key in (("voice_start_offset_s", "start_offset_s"), ("voice_end_offset_s", "end_offset_s"),
                      ("voice_atd_s", "atd_s"), ("voice_lag_slope_s_per_min", "lag_slope_s_per_min")):
        values = [s[key] for s in simultaneous if s[key] is not None]
        figures[name] = round(sum(values) / len(values), 4) if values else None
    given = pacing["words_given"]
    figures["voice_words_spoken_share"] = round(pacing["words_spoken"] / given, 4) if given else None
    figures["voice_lines_condensed"] = pacing["lines_condensed"]
    figures["voice_lines_dropped"] = pacing["lines_dropped"]
    return figures


def load_report(path: Path) -> dict:
    try:
        report = json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise RtvoiceError(f"{path} not found") from error
    except json.JSONDecodeError as error:
        raise RtvoiceError(f"{path} is not JSON: {error}") from error
    if report.get("schema") != SCHEMA or not isinstance(report.get("figures"), dict):
        raise RtvoiceError(f"{path} is not an rtvoice bench report")
    if report.get("schema_version", 0) > SCHEMA_VERSION:
        raise RtvoiceError(f"{path} has schema version {report['schema_version']}; this rtvoice reads up to "
                           f"{SCHEMA_VERSION}")
    return report


def render_table(report: dict) -> str:
    f = report["figures"]

    def ms(v):
        return "—" if v is None else f"{v * 1e3:.0f} ms"

    lines = [f"rtvoice bench ({report['clock']} clock): {f['audio_seconds']:.1f} s of audio, "
             f"{report['models']['asr']}, voice {report['models']['voice']} on {report['models']['voice_device']}",
             "", f"{'stage':<38} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}"]
    for name in LATENCY_FIGURES:
        lines.append(f"{STAGE_LABELS[name]:<38} {f[name + '_n']:>5} {ms(f[name + '_p50_s']):>8} "
                     f"{ms(f[name + '_p95_s']):>8} {ms(f[name + '_p99_s']):>8} {ms(f[name + '_max_s']):>8}")
    lines += ["", f"real-time factor (compute / audio): front end {f['frontend_rtf']:.4f}, ASR {f['asr_rtf']:.3f}, "
                  f"voice {f['tts_rtf'] if f['tts_rtf'] is not None else float('nan'):.3f}",
              f"dropped samples {f['dropped_samples']}, underruns {f['underruns']}, skipped partial decodes "
              f"{f['skipped_partials']}; queue high-water: "
              + ", ".join(f"{k.replace('_high_water', '')} {v}" for k, v in f.items() if k.endswith("high_water"))]
    if "wer" in f:
        line = f"caption WER: {f['wer'] * 100:.1f}%"
        if f.get("offline_wer") is not None:
            ratio = "n/a" if f.get("wer_ratio") is None else f"{f['wer_ratio']:.2f}"
            line += (f"; offline long-form, same model (faster-whisper): {f['offline_wer'] * 100:.1f}%; "
                     f"streaming / offline {ratio}")
        lines.append(line)
    if f.get("voice_behind_line_start_max_s") is not None:
        lines.append(_voice_line(f))
    lines.append(_callback_line(report))
    return "\n".join(lines)


def _voice_line(f: dict) -> str:
    def s(v, sign=""):
        return "n/a" if v is None else f"{v:{sign}.2f}"

    share = f.get("voice_words_spoken_share")
    return (f"voice behind the speaker at line starts: p50 {s(f['voice_behind_line_start_p50_s'])} s, p95 "
            f"{s(f['voice_behind_line_start_p95_s'])} s, max {s(f['voice_behind_line_start_max_s'])} s, trend "
            f"{s(f['voice_lag_slope_s_per_min'], '+')} s/min; SimulEval: StartOffset {s(f['voice_start_offset_s'])} s, "
            f"EndOffset {s(f['voice_end_offset_s'])} s, ATD {s(f['voice_atd_s'])} s; words spoken "
            + ("n/a" if share is None else f"{share * 100:.1f}%")
            + f" ({f['voice_lines_condensed']} line(s) condensed, {f['voice_lines_dropped']} dropped)")


def _callback_line(report: dict) -> str:
    f = report["figures"]
    if not f.get("callbacks"):
        return "audio callbacks: n/a (no --audio-device: file input, no callback ran)"

    def side(name):
        if not f.get(f"{name}_callbacks"):
            return f"{name} n/a"
        entry = f.get(name + "_callback_entry_max_s")
        return (f"{name} {f[name + '_callbacks']} calls, p50 {f[name + '_callback_p50_s'] * 1e3:.3f} ms, "
                f"p99 {f[name + '_callback_p99_s'] * 1e3:.3f} ms, max {f[name + '_callback_max_s'] * 1e3:.3f} ms"
                + ("" if entry is None else f" (native code alone: max {entry * 1e3:.3f} ms)"))

    path = report.get("audio_callbacks")
    return (f"audio callbacks{'' if path is None else f' ({path})'} on {report.get('audio_device')!r}: "
            f"{side('playback')}; {side('capture')}")



def plot_report(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    data = [report["latency_samples_s"][k] or [float("nan")] for k in LATENCY_FIGURES]
    left.boxplot(data, orientation="horizontal", tick_labels=[STAGE_LABELS[k] for k in LATENCY_FIGURES])
    left.set_xlabel("latency (s)")
    left.set_title(f"latency distributions ({report['clock']} clock)")
    left.grid(axis="x", alpha=0.3)
    timeline = report.get("timeline")
    if timeline and timeline["events"]:
        events = timeline["events"]  # "emitted" is in stream seconds (capture time of sample 0 = 0)
        final = next((e for e in events if e["kind"] == "final"), events[-1])
        right.axvspan(events[0]["start"], final["end"], color="tab:blue", alpha=0.15, label="speech")
        for e in events:
            final_event = e["kind"] == "final"
            right.plot([e["emitted"]], [2 if final_event else 1], "s" if final_event else "o",
                       color="tab:green" if final_event else "tab:orange")
        if timeline.get("tts_first_audio_after_final_s") is not None:
            right.plot([final["emitted"] + timeline["tts_first_audio_after_final_s"]], [3], "^", color="tab:red")
        right.set_yticks([1, 2, 3], ["partial caption", "final caption", "first voice sample"])
        right.set_ylim(0.5, 3.5)
        right.set_xlabel("stream time (s)")
        right.set_title(f"one utterance through every stage ({timeline['input']})")
        right.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
