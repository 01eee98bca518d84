"""``rtvoice caption``: live captions from a microphone, an audio file or raw PCM on standard input."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import signal
import sys
from pathlib import Path
from typing import Protocol


_LANG_FILE = re.compile(r"^([a-z]{2,3})=(.+)$")  # --srt pt=captions.pt.srt


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "caption", help="live captions from a microphone, an audio file or raw PCM on stdin",
        description="Streaming speech recognition (Whisper via CTranslate2) with partial and final captions.",
    )
    add_caption_arguments(p)
    add_program_arguments(p)
    p.set_defaults(func=run)


def add_program_arguments(p: argparse.ArgumentParser) -> None:
    """--program-in/--program-out: the captions muxed into a video programme as CEA-608 (docs/broadcast.md)."""
    prog = p.add_argument_group("captions in a video programme (CEA-608 in the H.264 stream, ATSC A/53)")
    prog.add_argument("--program-out", metavar="FILE|URL",
                      help="write the programme with its captions inside: the source language on CC1, the "
                           "--translate-to language on CC3 (field 2), roll-up as --scc; the video re-encoded "
                           "H.264 (x264), the first audio track AAC; .ts, .m2ts, .mp4, .mov or .mkv, muxed by a "
                           "GStreamer child once the captions are done. With a live --program-in: as the captions "
                           "are made, into a file or out as MPEG-TS to udp://HOST:PORT or srt://…; see "
                           "docs/broadcast.md")
    prog.add_argument("--program-in", metavar="FILE|URL",
                      help="the video programme the captions go into, its timeline starting at the first audio "
                           "sample of the input (default: the input file itself, e.g. a .ts or .mp4); or a live "
                           "programme's URL (srt://, udp://, rtsp://, http(s)://) when the input is its audio feed "
                           "at another URL (one feed cannot be read twice: send the programme to both)")
    prog.add_argument("--program-delay", dest="program_mux_delay", type=float, default=None, metavar="S",
                      help="with a live --program-in: the programme goes out S seconds late, each frame waiting "
                           "that long for its captions (default 3; 0.5..60)")


def add_source_arguments(p: argparse.ArgumentParser, realtime_help: str) -> None:
    """The input options: a file, - for raw PCM on stdin, or a microphone (shared with `rtvoice stream`, whose
    --realtime says how the file is sent)."""
    src = p.add_argument_group("input")
    src.add_argument("input", nargs="?", help="audio file (anything libsndfile reads; else a video file's first audio "
                                              "track, decoded by FFmpeg), - for raw PCM on stdin, or a "
                                              "network feed URL (srt://, rtmp://, rtsp://, http(s)://….m3u8, "
                                              "udp://; read through FFmpeg, docs/broadcast.md); leave out with --mic")
    src.add_argument("--mic", action="store_true", help="capture from a microphone (the default input device)")
    src.add_argument("--input-device", metavar="NAME|INDEX",
                     help="microphone by name (substring) or index, see `rtvoice devices` (implies --mic)")
    src.add_argument("--stall-timeout", type=float, default=None, metavar="S",
                     help="microphone: count the device as lost after this long without audio (s, default 1), see "
                          "docs/faults.md; feed: count it as dropped and reconnect (default 5, HLS 20)")
    src.add_argument("--realtime", action="store_true", help=realtime_help)
    src.add_argument("--format", default="s16le", choices=("s16le", "s32le", "f32le"), help="raw PCM sample format")
    src.add_argument("--rate", type=int, default=16000, help="raw PCM sample rate (Hz)")
    src.add_argument("--channels", type=int, default=1, help="raw PCM interleaved channels")
    feed = p.add_argument_group("network feed (URL input)")
    feed.add_argument("--listen", action="store_true",
                      help="be the server the sender pushes to: rtmp://HOST:PORT/APP/KEY (OBS's custom server), "
                           "rtsp://HOST:PORT/PATH, srt://HOST:PORT (mode=listener)")
    feed.add_argument("--audio-track", type=int, default=0, metavar="N", help="the feed's audio track (0: the first)")
    feed.add_argument("--connect-timeout", type=float, default=None, metavar="S",
                      help="the first audio must arrive within this (s; default 10, 60 with --listen), else exit 2")
    feed.add_argument("--reconnect-for", type=float, default=30.0, metavar="S",
                      help="after the feed drops, keep reconnecting this long before ending the input (s; the gap "
                           "is filled with silence, see docs/broadcast.md; inf: until stopped)")


def decoder_threads_argument(value: str) -> int | str:
    """--decoder-threads: auto or a thread count >= 0."""
    if value == "auto":
        return value
    try:
        threads = int(value)
    except ValueError:
        threads = -1
    if threads < 0:
        raise argparse.ArgumentTypeError(f"expected auto or a thread count >= 0, got {value!r}")
    return threads


def add_caption_arguments(p: argparse.ArgumentParser) -> None:
    """Input, recognition, voice-activity and caption-output options (shared with `rtvoice dub`)."""
    from rtvoice.asr.streaming import COMMIT_BOUNDARIES, StreamingConfig

    add_source_arguments(p, realtime_help="pace a file like a live source (for latency figures), or treat stdin as "
                                          "live (paced by its producer); default: as fast as possible")

    asr = p.add_argument_group("recognition")
    asr.add_argument("--asr-model", type=Path, metavar="DIR",
                     help="a CTranslate2 Whisper model directory (default: packaged tiny.en)")
    asr.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                     help="auto uses CUDA when CTranslate2 sees a GPU")
    asr.add_argument("--compute-type", default=None, help="CTranslate2 compute type (default int8 on CPU, "
                                                          "float16 on CUDA)")
    asr.add_argument("--threads", type=int, default=0, help="CPU threads for the encoder (0: CTranslate2 default)")
    asr.add_argument("--decoder-threads", type=decoder_threads_argument, default="auto", metavar="N",
                     help="CPU threads for the decoder, a second copy of the model (0: one copy, --threads for "
                          "both; default auto: a one-thread copy where it decodes faster on this CPU, timed at "
                          "start)")
    asr.add_argument("--beam-size", type=int, default=1, help="1 = greedy")
    asr.add_argument("--language", default="en",
                     help="language code (any but en runs the packaged multilingual base), or auto: detected on "
                          "each final's segment (docs/translation.md)")
    asr.add_argument("--language-lock", type=int, default=0, metavar="N",
                     help="--language auto: after N finals in a row detected in one language, keep it (0: never)")

    mt = p.add_argument_group("translation")
    mt.add_argument("--translate-to", metavar="LANG",
                    help="translate each final caption into LANG as it arrives (see `rtvoice languages`); write "
                         "the translation with --srt LANG=FILE, --vtt LANG=FILE, --jsonl LANG=FILE")
    add_mt_argument(mt)
    asr.add_argument("--partial-interval", type=float, default=StreamingConfig.partial_interval_s, metavar="S",
                     help="decode the growing segment again after this much new audio (s)")
    asr.add_argument("--agreement", type=int, default=StreamingConfig.agreement, metavar="N",
                     help="commit words once N consecutive partial hypotheses agree on them "
                          f"(default: {StreamingConfig.agreement})")
    asr.add_argument("--commit-boundary", choices=COMMIT_BOUNDARIES, default=StreamingConfig.commit_boundary,
                     help="all: commit a word once every agreeing hypothesis shows the next word begin; newest: "
                          "once the newest does and the older ones end with it, when both give each of its tokens "
                          "at least --min-word-probability; auto: newest for English-only models, all for "
                          f"multilingual ones (default: {StreamingConfig.commit_boundary})")
    asr.add_argument("--min-word-probability", type=float, default=StreamingConfig.min_word_probability,
                     metavar="P", help=f"see --commit-boundary (default: {StreamingConfig.min_word_probability})")
    asr.add_argument("--no-prepared-finals", action="store_true",
                     help="decode a caption's final only once the end of speech is reported, not while the "
                          "trailing silence is waited out")
    asr.add_argument("--freeze-committed", type=float, default=StreamingConfig.freeze_committed_s, metavar="S",
                     help="once a caption's committed words span more than S seconds, decode only from its last "
                          "seconds of them on, the earlier ones given as the prompt (0: decode the whole caption "
                          f"every time; default: {StreamingConfig.freeze_committed_s})")
    add_context_argument(asr)

    fe = p.add_argument_group("voice activity")
    fe.add_argument("--vad-threshold", type=float, default=None, help="speech probability threshold (0.5)")
    fe.add_argument("--min-silence-ms", type=float, default=None, help="trailing silence that ends a caption (300)")
    fe.add_argument("--denoise", action="store_true", help="denoise before voice activity detection")
    fe.add_argument("--max-backlog", type=float, default=None, metavar="S",
                    help="live input: audio (s) that may wait for the recognizer before new audio is dropped "
                         "and counted (32)")

    out = p.add_argument_group("output")
    out.add_argument("--srt", action="append", default=[], metavar="[LANG=]FILE",
                     help="write SubRip captions; LANG=FILE for the captions translated into LANG (--translate-to); "
                          "may be given once per language")
    out.add_argument("--vtt", action="append", default=[], metavar="[LANG=]FILE",
                     help="write WebVTT captions (LANG=FILE: translated, as for --srt)")
    out.add_argument("--jsonl", action="append", default=[], metavar="[LANG=]FILE",
                     help="write every caption event as JSON Lines (LANG=FILE: the translated finals, each with "
                          "its language and the id of its source caption)")
    out.add_argument("--scc", action="append", default=[], metavar="[LANG=]FILE",
                     help="write CEA-608 roll-up captions (CC1) as a Scenarist SCC file, 29.97 fps drop-frame "
                          "timecodes (LANG=FILE: translated, as for --srt); see docs/broadcast.md")
    out.add_argument("--scc-rows", type=int, default=3, choices=(2, 3, 4), help="SCC roll-up rows (default 3)")
    out.add_argument("--hls-vtt", action="append", default=[], metavar="[LANG=]DIR",
                     help="write a live HLS subtitle rendition into DIR: WebVTT segments, the media playlist "
                          "subtitles.m3u8 and subtitles-master.txt, the #EXT-X-MEDIA line for the programme's "
                          "master playlist (LANG=DIR: translated, as for --srt); see docs/broadcast.md")
    out.add_argument("--hls-segment", type=float, default=2.0, metavar="S",
                     help="--hls-vtt: segment duration (s, default 2)")
    out.add_argument("--hls-window", type=int, default=10, metavar="N",
                     help="--hls-vtt: segments kept in the live playlist (default 10; 0: all, an EVENT playlist)")
    out.add_argument("--hls-mpegts-offset", type=float, default=1.4, metavar="S",
                     help="--hls-vtt: the programme's MPEG-TS time of the input's first sample (s; X-TIMESTAMP-MAP; "
                          "default 1.4, where FFmpeg's MPEG-TS/HLS muxers start)")
    out.add_argument("--stats", type=Path, metavar="FILE", help="write latency and counters as JSON at exit")
    out.add_argument("--max-line-chars", type=int, default=42, help="caption line length (characters)")
    out.add_argument("--max-lines", type=int, default=2, help="lines per caption cue")
    out.add_argument("--quiet", action="store_true", help="no captions on the terminal")
    out.add_argument("--timestamps", action="store_true", help="prefix plain-text finals with their times")


def open_source(args):
    """The source the input options name (see add_source_arguments)."""
    from rtvoice.errors import RtvoiceError
    from rtvoice.audio.sources import FileSource, MicSource, StdinSource

    mic = args.mic or args.input_device is not None
    if mic and args.input:
        raise RtvoiceError("give either an input file / - or --mic, not both")
    if mic:
        try:
            return MicSource(args.input_device, stall_timeout_s=1.0 if args.stall_timeout is None else args.stall_timeout)
        except ValueError as error:
            raise RtvoiceError(f"--stall-timeout: {error}") from error
    if args.input is None:
        raise RtvoiceError("no input: give an audio file, - for raw PCM on stdin, or --mic")
    if args.input == "-":
        return StdinSource(args.format, args.rate, args.channels, live=args.realtime)
    from rtvoice.audio.network import FeedConfig, FeedSource, is_feed_url

    if is_feed_url(args.input):
        config = FeedConfig(args.input, audio_track=args.audio_track, listen=args.listen,
                            connect_timeout_s=args.connect_timeout, stall_timeout_s=args.stall_timeout,
                            reconnect_for_s=args.reconnect_for)
        name = getattr(args, "command", None) or "caption"
        return FeedSource(config, announce=lambda line: _say(f"rtvoice {name}: {line}"))
    if args.listen:
        raise RtvoiceError("--listen is for a network feed URL (rtmp://, rtsp://, srt://)")
    return FileSource(args.input, realtime=args.realtime)


class CaptionStage(Protocol):
    """Something that runs beside the captions (the dubbing voice): it listens to caption events."""

    def attach(self, source) -> list: ...  # the caption listeners it needs, given the started-to-be source
    def finish(self, interrupted: bool) -> None: ...
    def stats(self) -> dict: ...
    def report_lines(self) -> list[str]: ...



def add_mt_argument(group) -> None:
    """``--mt``: which backend translates a pair (shared with `rtvoice bench`)."""
    from rtvoice.pipeline.translation import MT_CHOICES

    group.add_argument("--mt", choices=MT_CHOICES, default="auto",
                       help="auto: the text backend of the pair, else Whisper's translate task for any → en (the "
                            "final's audio decoded again); whisper: Whisper's translate task for any → en")


def add_context_argument(group) -> None:
    """``--context``: what each speech segment's decode is given from the speech before it (docs/asr.md)."""
    from rtvoice.asr.streaming import CONTEXTS, StreamingConfig

    group.add_argument("--context", choices=CONTEXTS, default=StreamingConfig.context,
                       help="what each segment's decode gets from the speech before it: none; text (the committed "
                            "text as the prompt); audio (its last seconds, their words forced); both "
                            f"(default: {StreamingConfig.context})")


def run(args: argparse.Namespace) -> int:
    return run_captions(args, "caption")


def run_captions(args: argparse.Namespace, name: str, stage: CaptionStage | None = None) -> int:
    """Source → front end → streaming recognizer → caption outputs (and `stage`), until the input ends."""
    from rtvoice.asr import StreamingConfig, WhisperConfig, WhisperRecognizer
    from rtvoice.audio.callback_timing import report_lines as callback_report_lines
    from rtvoice.captions.hls_vtt import HlsVttConfig, HlsVttWriter
    from rtvoice.captions.scc import SccWriter
    from rtvoice.captions.writers import CaptionFanout, CaptionLayout, JsonlWriter, SrtWriter, TerminalWriter, VttWriter
    from rtvoice.pipeline.engine import CaptionPipeline, check_stats_for_losses
    from rtvoice.errors import RtvoiceError

    try:
        layout = CaptionLayout(args.max_line_chars, args.max_lines)
        streaming = StreamingConfig(partial_interval_s=args.partial_interval, context=args.context,
                                    agreement=args.agreement, language_lock=args.language_lock,
                                    commit_boundary=args.commit_boundary,
                                    min_word_probability=args.min_word_probability,
                                    prepare_finals=not args.no_prepared_finals,
                                    freeze_committed_s=args.freeze_committed)
        whisper_config = WhisperConfig(model_dir=args.asr_model, device=args.device, compute_type=args.compute_type,
                                       threads=args.threads, decoder_threads=args.decoder_threads or None,
                                       beam_size=args.beam_size, language=args.language)
        frontend_config = _frontend_config(args)
        # a programme that goes out late (dub --program-delay): its stream second 0 is that much later in PTS
        hls_config = HlsVttConfig(segment_s=args.hls_segment, window=args.hls_window,
                                  mpegts_offset_s=args.hls_mpegts_offset + getattr(args, "program_delay", 0.0))
    except ValueError as error:
        raise RtvoiceError(str(error)) from error

    files = caption_files(args)
    # before the models load: a programme that cannot be captioned is one line
    programme, programme_launch, live = _programme(args)
    source = open_source(args)
    live_mux = None  # the live programme's GStreamer child (rtvoice.captions.program_live)
    if live is not None:
        from rtvoice.captions.program_live import LiveProgrammeMux

        clock = source.clock
        live_mux = LiveProgrammeMux(*live[:3], anchor=lambda: clock.anchor,
                                    announce=lambda line: _say(f"rtvoice {name}: {line}"), launch=live[3])
    sinks, translated_sinks = [], []
    scc_writers = {}  # language: SccWriter (its counts go into the stats)
    hls_writers = {}  # language: HlsVttWriter (likewise)
    program_channels = {}  # language: ProgrammeChannel (CC1 the source, CC3 the translation)
    try:
        terminal = None if args.quiet else TerminalWriter(sys.stdout, layout=layout, timestamps=args.timestamps)
        for language, into in ((args.language, sinks), (args.translate_to, translated_sinks)):
            if language is None:
                continue
            if terminal is not None:
                into.append(terminal)
            chosen = files.get(language, {})
            for kind, writer in (("srt", SrtWriter), ("vtt", VttWriter)):
                if kind in chosen:  # a programme that goes out late (dub --program-delay) has its cues late too
                    into.append(writer(chosen[kind], layout, offset_s=getattr(args, "program_delay", 0.0)))
            if "jsonl" in chosen:
                into.append(JsonlWriter(chosen["jsonl"], language=language))
            if "scc" in chosen:
                scc_writers[language] = SccWriter(chosen["scc"], _stream_time(source), rows=args.scc_rows)
                into.append(scc_writers[language])
            if "hls_vtt" in chosen:
                tagged = None if language == "auto" else language  # --language auto: captions in any language
                hls_writers[language] = HlsVttWriter(chosen["hls_vtt"], tagged, _language_name(tagged),
                                                     stream_time=_stream_time(source),
                                                     stream_end=_stream_end(source), config=hls_config,
                                                     layout=layout)
                into.append(hls_writers[language])
            if live_mux is not None:
                into.append(live_mux.channel(language, 1 if into is sinks else 3, args.scc_rows,
                                             _stream_time(source)))
            if programme is not None:
                from rtvoice.captions.program import ProgrammeChannel

                program_channels[language] = ProgrammeChannel(programme, 1 if into is sinks else 3, args.scc_rows,
                                                              _stream_time(source))
                into.append(program_channels[language])
        if stage is not None and hasattr(stage, "event_outputs"):  # the voice's records beside its language's captions
            spoken = translated_sinks if args.translate_to is not None else sinks
            stage.event_outputs.extend(s for s in spoken if isinstance(s, JsonlWriter))
        recognizer = WhisperRecognizer(whisper_config)
        if getattr(stage, "needs_final_audio", False):  # the dub casts its voice from the speaker's pitch
            streaming = dataclasses.replace(streaming, keep_final_audio=True)
        if args.translate_to is not None:
            stage = _translation_stage(args, translated_sinks, stage, recognizer)
            streaming = stage.translator.streaming_config(streaming)
    except RtvoiceError:
        if live_mux is not None:
            live_mux.kill()
        CaptionFanout(sinks).close()
        CaptionFanout([s for s in translated_sinks if s is not terminal]).close()
        source.close()
        raise
    outputs = CaptionFanout(sinks)
    extra = stage.attach(source) if stage is not None else []
    if hasattr(stage, "streaming_config"):  # what the attached stages need of the partials (voice lines cut early)
        streaming = stage.streaming_config(streaming)
    clear = TerminalWriter.CLEAR if sys.stderr.isatty() else ""  # a partial may be on the line

    def status(line: str) -> None:  # overload: fell behind / caught up, as it happens
        print(f"{clear}rtvoice {name}: {line}", file=sys.stderr, flush=True)

    pipeline = CaptionPipeline(source, recognizer, [outputs, *extra], streaming, frontend_config, status=status)
    if live_mux is not None:  # the programme is read from now on; its frames wait for their captions
        live_mux.start()
    if hasattr(source, "connect"):  # a network feed: its first audio now that everything is loaded (no backlog
        try:                        # from the loading), one clear error if it never comes
            source.connect()
        except RtvoiceError:
            outputs.close()
            if stage is not None:
                stage.finish(interrupted=True)
            if live_mux is not None:
                live_mux.kill()
            raise
    # Said once everything is loaded (the front end's models take 0.5-1.5 s on 2 cores): capture starts now.
    print(f"rtvoice {name}: {recognizer.describe()}; {source.describe()}", file=sys.stderr)

    def on_signal(signum, frame):
        if pipeline._stop.is_set():  # a second signal: give up at once
            raise KeyboardInterrupt
        print(f"\nrtvoice {name}: {signal.Signals(signum).name}, finishing the captions", file=sys.stderr)
        pipeline.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    failure = None  # the source failed mid-stream (a lost device): what it delivered is captioned and written
    try:
        try:
            stats = pipeline.run()
        except RtvoiceError as error:
            if error is not source.error:
                raise
            failure, stats = error, pipeline.stats()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if live_mux is not None and sys.exc_info()[0] is not None:  # rtvoice is failing: the child goes too
            live_mux.kill()
        outputs.close()
        if stage is not None:
            stage.finish(interrupted=pipeline._stop.is_set())
    if stage is not None:
        stats.update(stage.stats())
        for line in stage.report_lines():
            print(f"rtvoice {name}: {line}", file=sys.stderr)

    if scc_writers:
        stats["scc"] = {language: writer.stats() for language, writer in scc_writers.items()}
    if hls_writers:
        stats["hls_vtt"] = {language: writer.stats() for language, writer in hls_writers.items()}
    if programme is not None:  # the caption files are complete: a mux failure costs the programme only
        from rtvoice.captions.program import ProgrammeMux

        mux = ProgrammeMux(programme, args.program_out, program_channels,
                           announce=lambda line: _say(f"rtvoice {name}: {line}"), launch=programme_launch)
        stats["program"] = {**mux.run().as_dict(),
                            "tracks": {language: c.stats() for language, c in program_channels.items()}}
        for language, channel in program_channels.items():
            if channel.pairs_after_end:
                print(f"rtvoice {name}: warning: {channel.pairs_after_end} caption byte pairs ({language}) fall "
                      "after the programme's last frame: not in the programme (the caption files have them)",
                      file=sys.stderr)
    if live_mux is not None:  # the captions are complete: the programme's end (or its failure) is one line
        stats["program"] = live_mux.finish().as_dict()
        if stats["program"]["pairs_after_end"]:
            print(f"rtvoice {name}: warning: {stats['program']['pairs_after_end']} caption byte pairs fall after the "
                  "live programme's last frame: not in the programme (the caption files have them)", file=sys.stderr)
    stats["end"] = _end_of_input(failure, pipeline._stop.is_set())
    for line in pipeline.latency.report_lines() if source.live else []:
        print(f"rtvoice {name}: {line}", file=sys.stderr)
    for line in callback_report_lines(stats):  # when a device was used
        print(f"rtvoice {name}: {line}", file=sys.stderr)
    for line in check_stats_for_losses(stats):
        print(f"rtvoice {name}: warning: {line}", file=sys.stderr)
    print(f"rtvoice {name}: {stats['audio_seconds']:.1f} s of audio in {stats['wall_seconds']:.1f} s",
          file=sys.stderr)
    if args.stats is not None:
        try:
            args.stats.write_text(json.dumps(stats, indent=2) + "\n")
        except OSError as error:
            raise RtvoiceError(f"cannot write stats to {args.stats}: {error.strerror or error}") from error
    if failure is not None:  # exit code 3 for a lost device (DeviceLostError.exit_code), else 2
        if stats["end"]["reason"] == "device_lost":
            failure.args = (f"{failure}; the captions up to then are written",)
        raise failure
    return 0


def caption_files(args) -> dict[str, dict[str, Path]]:
    """{language: {"srt"|"vtt"|"jsonl"|"scc"|"hls_vtt": path}} from --srt/--vtt/--jsonl/--scc/--hls-vtt: FILE is
    the source language (--language), LANG=FILE a language of its own, which must be the source or the
    --translate-to one."""
    from rtvoice.errors import RtvoiceError

    languages = {args.language} | ({args.translate_to} if args.translate_to else set())
    files: dict[str, dict[str, Path]] = {}
    for kind in ("srt", "vtt", "jsonl", "scc", "hls_vtt"):
        option = "--" + kind.replace("_", "-")
        for value in getattr(args, kind, None) or []:
            match = _LANG_FILE.match(str(value))
            language, path = (match.group(1), match.group(2)) if match else (args.language, str(value))
            if language not in languages:
                hint = (f"add --translate-to {language}" if not args.translate_to else
                        f"the captions are in {args.language} and {args.translate_to}")
                raise RtvoiceError(f"{option} {value}: no captions in {language!r} ({hint})")
            if kind in files.get(language, {}):
                raise RtvoiceError(f"{option} given twice for {language!r} captions")
            files.setdefault(language, {})[kind] = Path(path)
    return files


def _programme(args):
    """(the programme file --program-out captions, gst-launch-1.0's path, None) when --program-out is given, (None,
    None, the live programme: _live_programme) for a URL --program-in, else (None, None, None); one ProgramError
    line for a programme that is not a video file, an unknown container or a GStreamer without the elements
    needed."""
    from rtvoice.errors import ProgramError

    out = getattr(args, "program_out", None)
    if out is None:
        if getattr(args, "program_in", None) is not None:
            raise ProgramError("--program-in needs --program-out FILE (where the captioned programme goes)")
        if getattr(args, "program_mux_delay", None) is not None:
            raise ProgramError("--program-delay is for a live --program-in URL and its --program-out")
        return None, None, None
    live = _live_programme(args)
    if live is not None:
        return None, None, live
    if args.program_mux_delay is not None:
        raise ProgramError("--program-delay is for a live --program-in URL (a programme file is muxed after the "
                           "captions)")
    from rtvoice.audio.network import is_feed_url
    from rtvoice.captions.program import check_gstreamer, check_program_out, probe_programme

    out = check_program_out(out)
    program_in = args.program_in
    if program_in is None:
        if args.input in (None, "-") or is_feed_url(args.input):
            raise ProgramError("--program-out needs --program-in FILE: the input is not a programme file")
        program_in = args.input
    programme = probe_programme(program_in, "--program-in" if args.program_in else "the input")
    if out.resolve() == programme.path.resolve():
        raise ProgramError(f"--program-out {out}: the programme read; write the captioned one elsewhere")
    return programme, check_gstreamer(), None


def _live_programme(args):
    """(programme URL, --program-out, delay s, gst-launch-1.0's path) for a live --program-in, else None; one
    ProgramError line when it cannot be done."""
    from rtvoice.audio.network import is_feed_url
    from rtvoice.captions.program import check_gstreamer
    from rtvoice.captions.program_live import DEFAULT_DELAY_S, ELEMENTS, check_live_out, is_live
    from rtvoice.errors import ProgramError

    program_in = getattr(args, "program_in", None)
    if not is_live(program_in):
        if is_live(args.program_out):
            raise ProgramError(f"--program-out {args.program_out}: a URL out needs a live --program-in URL")
        return None
    if args.input == program_in:
        raise ProgramError(f"--program-in {program_in}: the same URL as the audio input; one feed cannot be read "
                           "twice: send the programme to a second URL (e.g. FFmpeg's tee muxer) and give that")
    if not (args.mic or args.input_device is not None or is_feed_url(args.input)):
        raise ProgramError(f"--program-in {program_in}: a live programme needs a live audio input (its feed's "
                           "URL or --mic), the captions timed as they are made")
    delay = DEFAULT_DELAY_S if args.program_mux_delay is None else args.program_mux_delay
    if not 0.5 <= delay <= 60:
        raise ProgramError(f"--program-delay must be within 0.5..60 s, got {delay:g}")
    return program_in, check_live_out(str(args.program_out)), delay, check_gstreamer(ELEMENTS)


def _say(line: str) -> None:
    """One whole line on stderr from any thread (print() writes the newline apart: lines could interleave)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _stream_time(source):
    """Wall time -> stream seconds on a live source's clock (an SCC burst goes out when its text was ready);
    None for a file read as fast as possible."""
    if not source.live:
        return None
    clock = source.clock
    return lambda wall: None if clock.anchor is None else wall - clock.anchor


def _stream_end(source):
    """Stream seconds the source has delivered (the HLS rendition's last segment ends there at least)."""
    from rtvoice.audio.sources import SAMPLE_RATE

    return lambda: source.stats.delivered / SAMPLE_RATE


def _language_name(code: str | None) -> str:
    """A rendition's NAME in the master playlist: the language's English name where rtvoice knows it."""
    from rtvoice.mt.registry import language_name

    return "Captions" if code is None else language_name(code)


def _translation_stage(args, outputs: list, next_stage, recognizer):
    """The translation of --language -> --translate-to: with a fixed language its translator is opened now
    (one clear error when the pair cannot be translated; dictionaries / model loaded before the first
    caption); with auto, each detected language's translator is opened on its first line."""
    from rtvoice.pipeline.translation import TranslationStage, TranslatorRouter

    router = TranslatorRouter.for_stream(args.translate_to, recognizer, getattr(args, "mt", "auto"))
    return TranslationStage(router, outputs, next_stage=next_stage)


def _end_of_input(failure: Exception | None, stopped: bool) -> dict:
    """Why the captions ended, for the stats: the input ended, a signal, or the source failed."""
    from rtvoice.errors import DeviceLostError

    if failure is not None:
        return {"reason": "device_lost" if isinstance(failure, DeviceLostError) else "source_error",
                "message": str(failure)}
    return {"reason": "signal" if stopped else "input_ended"}


def _frontend_config(args):
    from rtvoice.frontend.front_end import EndpointerConfig, FrontEndConfig

    endpointer = {}
    if args.vad_threshold is not None:
        endpointer["threshold"] = args.vad_threshold
        endpointer["neg_threshold"] = max(0.01, args.vad_threshold - 0.15)
    if args.min_silence_ms is not None:
        endpointer["min_silence_ms"] = args.min_silence_ms
        endpointer["pad_after_ms"] = min(100.0, args.min_silence_ms)
    backlog = {} if getattr(args, "max_backlog", None) is None else {"audio_queue_s": args.max_backlog}
    return FrontEndConfig(endpointer=EndpointerConfig(**endpointer), denoise=args.denoise, **backlog)
