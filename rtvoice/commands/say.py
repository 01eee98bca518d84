"""``rtvoice say``: speak text in a Piper voice or a Kokoro voice, each line as soon as it arrives.

    rtvoice say "Hello there."                     # the speaker
    rtvoice say --text-file script.txt --wav out.wav   # a file (add --play to hear it as well)
    tail -f lines.txt | rtvoice say                # standard input, line by line
    rtvoice say --voice kokoro:ef_dora "Hola a todos."   # a Kokoro speaker, in its own language

`rtvoice voices` lists the voices: Piper's joe and each Kokoro speaker (kokoro:NAME).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("say", help="speak text in a synthesized voice (argument, --text-file or standard input)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", nargs="*", help="text to speak (default: lines from --text-file or standard input)")
    p.add_argument("--text-file", type=Path, default=None,
                   help="speak this file line by line ('-' for standard input)")
    add_voice_arguments(p, wav_help="write the voice to this WAV file instead of playing it (add --play for both)")
    p.add_argument("--stats", type=Path, default=None,
                   help="write figures as JSON: tts_first_audio_s {p50, p95}, rtf, underruns, ...")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on standard error")
    p.set_defaults(func=run)


def add_voice_arguments(p, wav_help: str, threads_flag: str = "--threads", voice_help: str = "") -> None:
    """Voice, speaker, speed, outputs and providers (shared with `rtvoice dub`)."""
    p.add_argument("--voice", default=None, metavar="FILE.onnx|kokoro:NAME",
                   help="Piper voice FILE.onnx with FILE.onnx.json beside it (default: en_US joe, medium), or "
                        "kokoro:NAME, a Kokoro-82M speaker such as kokoro:af_heart, kokoro:ef_dora, kokoro:pm_alex "
                        "(`rtvoice voices` lists them)" + voice_help)
    p.add_argument("--speaker", default=None, help="speaker name or index (multi-speaker voices)")
    p.add_argument("--speed", type=float, default=1.0, help="speaking rate, > 1 is faster (default 1.0)")
    p.add_argument("--wav", type=Path, default=None, help=wav_help)
    p.add_argument("--play", action="store_true", help="play through the speaker as well as writing --wav")
    p.add_argument("--output-device", default=None, help="output device index or name (see `rtvoice devices`)")
    p.add_argument("--providers", default="auto", choices=("auto", "cpu", "cuda", "tensorrt"),
                   help="ONNX Runtime execution providers (default auto: CUDA when usable, else CPU)")
    p.add_argument(threads_flag, dest="tts_threads", type=int, default=0,
                   help="ONNX Runtime threads for the voice (default: by CPU count)")


KOKORO_PREFIX = "kokoro:"


def kokoro_speaker_of(voice_arg) -> str | None:
    """NAME for ``--voice kokoro:NAME``, else None (a Piper file, or the default)."""
    text = None if voice_arg is None else str(voice_arg)
    return text[len(KOKORO_PREFIX):] if text and text.startswith(KOKORO_PREFIX) else None


def load_voice_from_args(args: argparse.Namespace, name: str, quiet: bool = False, language: str | None = None):
    """(voice, SynthesisOptions) from the voice arguments; says once where the voice runs. ``--voice
    kokoro:NAME`` loads Kokoro speaking ``language`` (default: the speaker's own language)."""
    from rtvoice.errors import RtvoiceError
    from rtvoice.tts import SynthesisOptions, VoiceOptions, load_voice

    try:
        options = SynthesisOptions(speaker=args.speaker, speed=args.speed)
        voice_options = VoiceOptions(providers=args.providers, threads=args.tts_threads)
    except ValueError as error:
        raise RtvoiceError(str(error)) from error
    speaker = kokoro_speaker_of(args.voice)
    if speaker is not None:
        from rtvoice.tts import kokoro_voices
        from rtvoice.tts.kokoro import KokoroVoice

        found = kokoro_voices.speaker(speaker)
        language = language or found.language
        if language not in kokoro_voices.SPOKEN_LANGUAGES:
            raise RtvoiceError(f"--voice kokoro:{speaker} speaks {found.accent} ({found.language}), a language "
                               f"rtvoice does not speak with Kokoro ({', '.join(kokoro_voices.SPOKEN_LANGUAGES)})")
        voice = KokoroVoice(language, voice_options, speaker=speaker)
        about = f" (Kokoro-82M, {speaker}: {found.accent}, {found.sex})"
    else:
        voice = load_voice(None if args.voice is None else Path(args.voice), voice_options)
        about = ""
    if not quiet:
        choice = voice.provider_choice
        where = "CPU" if not choice.on_gpu else choice.device.upper()
        print(f"rtvoice {name}: voice {voice.name} on {where}: {choice.reason}{about}", file=sys.stderr)
    return voice, options


def _lines(args: argparse.Namespace):
    """Texts to speak, in order, each as soon as it is read."""
    from rtvoice.errors import RtvoiceError

    if args.text:
        yield " ".join(args.text)
        return
    if args.text_file is not None and str(args.text_file) != "-":
        try:
            handle = open(args.text_file, encoding="utf-8", errors="replace")
        except OSError as error:
            raise RtvoiceError(f"cannot read text file {args.text_file}: {error.strerror}") from error
        with handle:
            yield from handle
        return
    if sys.stdin is None or (sys.stdin.isatty() and args.text_file is None):
        raise RtvoiceError("nothing to say: give text, --text-file FILE, or pipe lines on standard input")
    yield from iter(sys.stdin.readline, "")


def run(args: argparse.Namespace) -> int:
    from rtvoice.tts import PlaybackSink, TtsEngine, WavSink

    logging.basicConfig(level=logging.WARNING, format="rtvoice: %(message)s")
    voice, options = load_voice_from_args(args, "say", quiet=args.quiet)
    sinks = []
    if args.wav is not None:
        sinks.append(WavSink(args.wav))
    if args.wav is None or args.play:
        sinks.append(PlaybackSink(device=args.output_device))
    engine = TtsEngine(voice, options, sinks)
    interrupted = False
    try:
        engine.start()
        for line in _lines(args):
            engine.speak(line.rstrip("\n"))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:
            engine.close(drain=not interrupted)
        finally:
            if args.stats is not None:
                args.stats.write_text(json.dumps(engine.stats(), indent=2) + "\n")
    if interrupted:
        return 130
    if not args.quiet:
        s = engine.stats()
        first = s["tts_first_audio_s"]
        if first["n"]:
            print(f"rtvoice: {s['spoken']} line(s), {s['audio_s']:.1f} s of voice, first audio "
                  f"p50 {first['p50'] * 1e3:.0f} ms, RTF {s['rtf']:.3f}, underruns {s['underruns']}", file=sys.stderr)
    return 0
