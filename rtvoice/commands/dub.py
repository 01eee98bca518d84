"""``rtvoice dub``: live captions and, for each final caption, the same words in a synthesized voice.

    rtvoice dub --mic                                  # captions on the terminal, the voice on the speaker
    rtvoice dub talk.wav --realtime --wav dubbed.wav --srt talk.srt --stats stats.json
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from rtvoice.commands.caption import add_caption_arguments
    from rtvoice.commands.say import add_voice_arguments

    p = subparsers.add_parser("dub", help="live captions, each final caption spoken in a synthesized voice",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_caption_arguments(p)
    voice = p.add_argument_group("voice")
    add_voice_arguments(voice, wav_help="write the dubbed voice track (source timeline) to this WAV instead of "
                                        "playing it (add --play for both)", threads_flag="--tts-threads")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtvoice.commands.caption import run_captions
    from rtvoice.commands.say import load_voice_from_args
    from rtvoice.pipeline.dubbing import DubStage
    from rtvoice.tts import PlaybackSink, TimelineSink, TtsEngine

    voice, options = load_voice_from_args(args, "dub")
    sinks, timeline = [], None
    if args.wav is not None:
        timeline = TimelineSink(args.wav)
        sinks.append(timeline)
    if args.wav is None or args.play:
        sinks.append(PlaybackSink(device=args.output_device))
    stage = DubStage(TtsEngine(voice, options, sinks), timeline)
    return run_captions(args, "dub", stage)
