"""``rtvoice dub``: live captions and, for each final caption, the same words in a synthesized voice, or
with --translate-to LANG their translation in a voice of that language.

    rtvoice dub --mic                                  # captions on the terminal, the voice on the speaker
    rtvoice dub talk.wav --realtime --wav dubbed.wav --srt talk.srt --stats stats.json
    rtvoice dub talk.wav --realtime --translate-to pt --wav dubbed_pt.wav --srt en.srt --srt pt=pt.srt
    rtvoice dub talk.wav --translate-to es --voice kokoro:em_alex --wav dubbed_es.wav   # another native speaker
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    from rtvoice.commands.caption import add_caption_arguments
    from rtvoice.commands.say import add_voice_arguments

    p = subparsers.add_parser("dub", help="live captions, each final caption spoken in a synthesized voice",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_caption_arguments(p)
    voice = p.add_argument_group("voice")
    add_voice_arguments(voice, wav_help="write the dubbed voice track (source timeline) to this WAV instead of "
                                        "playing it (add --play for both)", threads_flag="--tts-threads")
    voice.add_argument("--max-speedup", type=float, default=None, metavar="X",
                       help="dubbed track with --translate-to: speed a line up to X times (pitch kept, Rubber "
                            "Band) to fit its source slot; 1 places lines unfitted (default 1.25 when translating, "
                            "else 1)")
    voice.add_argument("--lag-warning", type=float, default=2.0, metavar="S",
                       help="say so on the terminal when the voice runs more than S seconds behind the speaker "
                            "(and again when it has caught up; live sources; default 2)")
    voice.add_argument("--catch-up", type=float, default=None, metavar="X",
                       help="live sources: a line that would start more than --lag-warning seconds behind the "
                            "speaker is spoken X times faster (the voice's own speed, not a stretch); 1: never "
                            "(default: as --max-speedup, 1.25 when translating, else 1)")
    voice.add_argument("--prepare-ahead", action=argparse.BooleanOptionalAction, default=True,
                       help="with --translate-to and a Kokoro voice: synthesise each line's first piece while the "
                            "speaker is still talking, from the translation of the partial captions; it is spoken "
                            "only if the final line's translation begins with it (default: on)")
    p.set_defaults(func=run)


def _voice(args, name: str):
    """The voice for the dubbed language: a native Kokoro speaker for es/pt (no Piper voice of theirs ships
    in a package), the Piper voice for English, or --voice (a Piper file, or kokoro:NAME speaking the dubbed
    language)."""
    from rtvoice.commands.say import kokoro_speaker_of, load_voice_from_args
    from rtvoice.errors import RtvoiceError
    from rtvoice.tts import SynthesisOptions, VoiceOptions, kokoro_voices
    from rtvoice.tts.kokoro import ESPEAK_VOICES, KokoroVoice

    language = args.translate_to or args.language
    if language == "auto" and args.voice is None:
        raise RtvoiceError("rtvoice dub --language auto needs --translate-to LANG or --voice FILE.onnx (the voice "
                           "speaks one language)")
    if kokoro_speaker_of(args.voice) is not None:
        if language == "auto":
            raise RtvoiceError("rtvoice dub --voice kokoro:NAME needs --translate-to LANG or --language LANG (the "
                               "language the speaker is to speak)")
        return load_voice_from_args(args, name, language=language)
    if args.voice is not None or language == "en":
        return load_voice_from_args(args, name)
    if language not in ESPEAK_VOICES:
        raise RtvoiceError(f"no packaged voice speaks {language!r}: give --voice FILE.onnx, a Piper voice of that "
                           f"language (packaged voices: {', '.join(sorted({'en', *ESPEAK_VOICES}))})")
    try:
        options = SynthesisOptions(speed=args.speed)
        voice_options = VoiceOptions(providers=args.providers, threads=args.tts_threads)
    except ValueError as error:
        raise RtvoiceError(str(error)) from error
    voice = KokoroVoice(language, voice_options, speaker=args.speaker)
    choice = voice.provider_choice
    found = kokoro_voices.speaker(voice.speaker)
    print(f"rtvoice {name}: voice {voice.name} on {'CPU' if not choice.on_gpu else choice.device.upper()}: "
          f"{choice.reason} (Kokoro-82M, {voice.speaker}: {found.accent}, {found.sex})", file=sys.stderr)
    return voice, options


def run(args: argparse.Namespace) -> int:
    from rtvoice.commands.caption import run_captions
    from rtvoice.errors import RtvoiceError
    from rtvoice.pipeline.dubbing import DubStage, VoiceLag
    from rtvoice.tts import PlaybackSink, TimelineSink, TtsEngine
    from rtvoice.tts.fitting import FittedTimelineSink

    max_speedup = args.max_speedup if args.max_speedup is not None else (1.25 if args.translate_to else 1.0)
    if not 1.0 <= max_speedup <= 2.0:
        raise RtvoiceError(f"--max-speedup must be within 1..2, got {max_speedup:g}")
    if not args.lag_warning > 0:
        raise RtvoiceError(f"--lag-warning must be > 0 s, got {args.lag_warning:g}")
    catch_up = args.catch_up if args.catch_up is not None else max_speedup
    if not 1.0 <= catch_up <= 2.0:
        raise RtvoiceError(f"--catch-up must be within 1..2, got {catch_up:g}")
    voice, options = _voice(args, "dub")
    sinks, timeline = [], None
    if args.wav is not None:
        timeline = FittedTimelineSink(args.wav, max_speedup) if max_speedup > 1.0 else TimelineSink(args.wav)
        sinks.append(timeline)
    if args.wav is None or args.play:
        sinks.append(PlaybackSink(device=args.output_device))
    lag = VoiceLag(args.lag_warning, status=lambda line: print(f"rtvoice dub: {line}", file=sys.stderr, flush=True))
    stage = DubStage(TtsEngine(voice, options, sinks), timeline, lag, catch_up=catch_up,
                     prepare_ahead=args.prepare_ahead)
    return run_captions(args, "dub", stage)
