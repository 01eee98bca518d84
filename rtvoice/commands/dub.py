"""``rtvoice dub``: live captions and, for each final caption, the same words in a synthesized voice.

    rtvoice dub --mic                                  # captions on the terminal, the voice on the speaker
    rtvoice dub talk.wav --realtime --wav dubbed.wav --srt talk.srt --stats stats.json
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from rtvoice.commands.caption import add_caption_arguments

    p = subparsers.add_parser("dub", help="live captions, each final caption spoken in a synthesized voice",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_caption_arguments(p)
    voice = p.add_argument_group("voice")
    voice.add_argument("--voice", type=Path, default=None,
                       help="Piper voice FILE.onnx with FILE.onnx.json beside it (default: en_US joe, medium)")
    voice.add_argument("--speaker", default=None, help="speaker name or index (multi-speaker voices)")
    voice.add_argument("--speed", type=float, default=1.0, help="speaking rate, > 1 is faster")
    voice.add_argument("--wav", type=Path, default=None,
                       help="write the dubbed voice track (source timeline) to this WAV instead of playing it")
    voice.add_argument("--play", action="store_true", help="play through the speaker as well as writing --wav")
    voice.add_argument("--output-device", default=None, help="output device index or name (see `rtvoice devices`)")
    voice.add_argument("--providers", default="auto", choices=("auto", "cpu", "cuda", "tensorrt"),
                       help="ONNX Runtime providers for the voice (auto: CUDA when usable, else CPU)")
    voice.add_argument("--tts-threads", type=int, default=0, help="ONNX Runtime threads for the voice")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from rtvoice.commands.caption import run_captions
    from rtvoice.dubbing import DubStage
    from rtvoice.errors import RtvoiceError
    from rtvoice.tts import PlaybackSink, SynthesisOptions, TimelineSink, TtsEngine, VoiceOptions, load_voice

    try:
        options = SynthesisOptions(speaker=args.speaker, speed=args.speed)
        voice_options = VoiceOptions(providers=args.providers, threads=args.tts_threads)
    except ValueError as error:
        raise RtvoiceError(str(error)) from error
    voice = load_voice(args.voice, voice_options)
    choice = voice.provider_choice
    print(f"rtvoice dub: voice {voice.name} on {'CPU' if not choice.on_gpu else choice.device.upper()}: "
          f"{choice.reason}", file=sys.stderr)
    sinks, timeline = [], None
    if args.wav is not None:
        timeline = TimelineSink(args.wav)
        sinks.append(timeline)
    if args.wav is None or args.play:
        sinks.append(PlaybackSink(device=args.output_device))
    stage = DubStage(TtsEngine(voice, options, sinks), timeline)
    return run_captions(args, "dub", stage)
