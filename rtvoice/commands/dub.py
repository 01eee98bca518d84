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
from pathlib import Path


def _lag_bound(value: str) -> float | None:
    """--max-voice-lag: seconds > 0, or off (None)."""
    if value == "off":
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0 or off, got {value!r}")
    return seconds


def register(subparsers) -> None:
    from rtvoice.commands.caption import add_caption_arguments
    from rtvoice.commands.say import add_voice_arguments
    from rtvoice.pipeline.pacing import PacingConfig
    from rtvoice.pipeline.units import UnitConfig

    p = subparsers.add_parser("dub", help="live captions, each final caption spoken in a synthesized voice",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_caption_arguments(p)
    voice = p.add_argument_group("voice")
    add_voice_arguments(voice, wav_help="write the dubbed voice track (source timeline) to this WAV instead of "
                                        "playing it (add --play for both)", threads_flag="--tts-threads",
                        voice_help="; or auto: native Kokoro voices cast per line, a woman's or a man's voice as the "
                                   "source speaker's pitch and vocal tract say (the default for es and pt; English "
                                   "dubs default to the Piper voice)")
    pace = p.add_argument_group("keeping pace with the speaker (live sources: a microphone, a file with --realtime)")
    pace.add_argument("--max-voice-lag", type=_lag_bound, default=3.0, metavar="S|off",
                      help="no line starts more than S seconds behind the end of its source speech: each line's "
                           "speed is chosen from its predicted duration to fit its slot (up to --max-speedup), a "
                           "line that cannot fit is condensed, and one that would still start later is dropped (a few "
                           "start late instead: --late-lines); "
                           "every condensed or dropped line is said on the terminal, counted in --stats and kept "
                           "in --jsonl as a voice_lag record. off: lines are queued whole (default 3)")
    pace.add_argument("--max-speedup", type=float, default=None, metavar="X",
                      help="speak a line up to X times faster (1..2; default 1.25): live, with the voice's own "
                           "speed control to keep pace; a file read as fast as possible with --translate-to, by "
                           "stretching the dubbed track to the source slots (pitch kept, Rubber Band)")
    pace.add_argument("--pace-target", type=float, default=None, metavar="S",
                      help="with --max-voice-lag: the lag each line's speed aims at, leaving the rest of the bound "
                           "for lines that come close together (0 < S <= the bound; default a third of it)")
    pace.add_argument("--next-line", type=float, default=PacingConfig.next_line_s, metavar="S",
                      help="with --max-voice-lag: plan each line so that a next line of up to S seconds of "
                           "speech could still start within the target (default 1.5; 0: as long as the line "
                           "itself)")
    pace.add_argument("--late-lines", type=float, default=PacingConfig.late_share, metavar="SHARE",
                      help="with --max-voice-lag: up to this share of the lines (0..0.5; default 0.04) may start "
                           "past the bound, by up to --late-by, rather than be dropped: the bound then holds for "
                           "the p95 of the lines' starts (0: for every line)")
    pace.add_argument("--late-by", type=float, default=PacingConfig.late_by_s, metavar="S",
                      help="with --max-voice-lag: how far past the bound such a line may start (default 2)")
    pace.add_argument("--condense", action=argparse.BooleanOptionalAction, default=True,
                      help="with --max-voice-lag: say a shorter rendering of a line that cannot fit even at "
                           "--max-speedup (without asides and fillers, or its first clauses) (default: on)")
    pace.add_argument("--program-delay", type=float, default=0.0, metavar="S",
                      help="the programme goes out S seconds late (a broadcaster's delay): dubbed lines are placed "
                           "and held against the source times plus S, and their lag counted against them; the "
                           "captions' times are shifted by S (default 0)")
    pace.add_argument("--mix", type=Path, default=None, metavar="FILE.wav",
                      help="with --wav and a file input: also write the programme as a listener hears it: the "
                           "source delayed by --program-delay, 12 dB down while the voice speaks, the dub on top")
    pace.add_argument("--voice-lines", choices=("clause", "caption"), default="clause",
                      help="with --translate-to and --max-voice-lag: what the voice speaks as one line: clause (a "
                           "caption's committed words cut where a clause ends, so a long sentence is started while "
                           "the speaker is still saying it; the translated captions are cut alike) or caption "
                           "(each final caption whole) (default: clause)")
    pace.add_argument("--clause-min", type=float, default=UnitConfig.min_s, metavar="S",
                      help="with --voice-lines clause: a clause is cut off a caption once it spans S seconds "
                           "of speech (default 1.2)")
    pace.add_argument("--clause-max", type=float, default=UnitConfig.max_s, metavar="S",
                      help="with --voice-lines clause: speech that runs on S seconds with no clause boundary is "
                           "cut after the last word that can end a phrase (default 3; 0: never)")
    voice.add_argument("--lag-warning", type=float, default=2.0, metavar="S",
                       help="say so on the terminal when the voice runs more than S seconds behind the speaker "
                            "(and again when it has caught up; live sources; default 2)")
    voice.add_argument("--catch-up", type=float, default=None, metavar="X",
                       help="the older fixed rule, instead of --max-voice-lag (which it turns off): a line that "
                            "would start more than --lag-warning seconds behind the speaker is spoken X times "
                            "faster; 1: never")
    voice.add_argument("--prepare-ahead", action=argparse.BooleanOptionalAction, default=True,
                       help="with --translate-to and a Kokoro voice: synthesise each line's first piece while the "
                            "speaker is still talking, from the translation of the partial captions; it is spoken "
                            "only if the final line's translation begins with it (default: on)")
    p.set_defaults(func=run)


def _voice(args, name: str):
    """The voice for the dubbed language, and its caster (None: one voice for every line): native Kokoro
    speakers cast per line by the source speaker's sex for es/pt (and any language with native voices of both
    sexes, with --voice auto), the Piper voice for English, or --voice (a Piper file, or kokoro:NAME speaking
    the dubbed language)."""
    from rtvoice.commands.say import kokoro_speaker_of, load_voice_from_args
    from rtvoice.errors import RtvoiceError
    from rtvoice.pipeline.casting import VoiceCaster, casting_table
    from rtvoice.tts import SynthesisOptions, VoiceOptions, kokoro_voices
    from rtvoice.tts.kokoro import ESPEAK_VOICES, KokoroVoice

    language = args.translate_to or args.language
    if language == "auto" and args.voice in (None, "auto"):
        raise RtvoiceError("rtvoice dub --language auto needs --translate-to LANG or --voice FILE.onnx (the voice "
                           "speaks one language)")
    if kokoro_speaker_of(args.voice) is not None:
        if language == "auto":
            raise RtvoiceError("rtvoice dub --voice kokoro:NAME needs --translate-to LANG or --language LANG (the "
                               "language the speaker is to speak)")
        return (*load_voice_from_args(args, name, language=language), None)
    if args.voice == "auto" and language not in ESPEAK_VOICES:
        raise RtvoiceError(f"--voice auto casts Kokoro's native voices; none speaks {language!r} (languages: "
                           f"{', '.join(sorted(ESPEAK_VOICES))})")
    if (args.voice is not None and args.voice != "auto") or (language == "en" and args.voice is None):
        return (*load_voice_from_args(args, name), None)
    if language not in ESPEAK_VOICES:
        raise RtvoiceError(f"no packaged voice speaks {language!r}: give --voice FILE.onnx, a Piper voice of that "
                           f"language (packaged voices: {', '.join(sorted({'en', *ESPEAK_VOICES}))})")
    try:
        options = SynthesisOptions(speed=args.speed)
        voice_options = VoiceOptions(providers=args.providers, threads=args.tts_threads)
    except ValueError as error:
        raise RtvoiceError(str(error)) from error
    table = None if args.speaker is not None else casting_table(args.voice, language,
                                                                  kokoro_voices.catalogue().values())
    voice = KokoroVoice(language, voice_options, speaker=args.speaker or (table or {}).get("female"))
    choice = voice.provider_choice
    found = kokoro_voices.speaker(voice.speaker)
    cast = (f"cast per speaker: {table['female']} or {table['male']} by the source speaker's sex" if table else
            f"{voice.speaker}: {found.accent}, {found.sex}")
    print(f"rtvoice {name}: voice {voice.name} on {'CPU' if not choice.on_gpu else choice.device.upper()}: "
          f"{choice.reason} (Kokoro-82M, {cast})", file=sys.stderr)
    return voice, options, (VoiceCaster(table) if table else None)


def run(args: argparse.Namespace) -> int:
    from rtvoice.commands.caption import run_captions
    from rtvoice.errors import RtvoiceError
    from rtvoice.pipeline.dubbing import DubStage, VoiceLag
    from rtvoice.pipeline.pacing import PacingConfig
    from rtvoice.pipeline.units import UnitConfig
    from rtvoice.tts import PlaybackSink, TimelineSink, TtsEngine
    from rtvoice.tts.fitting import FittedTimelineSink
    from rtvoice.tts.playback import _tag_start

    live = bool(args.realtime or args.mic or args.input_device is not None)
    max_speedup = args.max_speedup if args.max_speedup is not None else 1.25
    if not 1.0 <= max_speedup <= 2.0:
        raise RtvoiceError(f"--max-speedup must be within 1..2, got {max_speedup:g}")
    if not args.lag_warning > 0:
        raise RtvoiceError(f"--lag-warning must be > 0 s, got {args.lag_warning:g}")
    if not 0 <= args.program_delay <= 60:
        raise RtvoiceError(f"--program-delay must be within 0..60 s, got {args.program_delay:g}")
    if args.mix is not None and (args.wav is None or args.mic or args.input_device is not None or args.input == "-"):
        raise RtvoiceError("--mix needs --wav (the dub it mixes in) and an audio file input (the programme)")
    pacing = None
    if args.catch_up is not None:  # the older fixed rule: pacing off
        catch_up = args.catch_up
        if not 1.0 <= catch_up <= 2.0:
            raise RtvoiceError(f"--catch-up must be within 1..2, got {catch_up:g}")
    elif args.max_voice_lag is None:  # off: the fixed rule as before --max-voice-lag (1.25x when translating)
        catch_up = max_speedup if args.translate_to else 1.0
    else:
        catch_up = 1.0
        target = args.pace_target if args.pace_target is not None else args.max_voice_lag * PacingConfig.target_share
        if not 0 < target <= args.max_voice_lag:
            raise RtvoiceError(f"--pace-target must be within (0, {args.max_voice_lag:g}] s, got {target:g}")
        try:
            pacing = PacingConfig(args.max_voice_lag, max_speedup, condense=args.condense,
                                  target_share=target / args.max_voice_lag, next_line_s=args.next_line or None,
                                  late_share=args.late_lines, late_by_s=args.late_by)
        except ValueError as error:
            raise RtvoiceError(str(error)) from error
    try:
        units = UnitConfig(min_s=args.clause_min, max_s=args.clause_max or None)
    except ValueError as error:
        raise RtvoiceError(f"--clause-min/--clause-max: {error}") from error
    voice, options, caster = _voice(args, "dub")
    sinks, timeline = [], None
    if args.wav is not None:
        delay = args.program_delay
        start_of = (lambda utterance: _tag_start(utterance) + delay) if delay else _tag_start
        # a paced voice fits its lines itself (its own speed); otherwise the track is fitted to the source slots
        if args.translate_to and max_speedup > 1.0 and not (live and pacing is not None):
            timeline = FittedTimelineSink(args.wav, max_speedup, start_of=start_of)
        else:
            timeline = TimelineSink(args.wav, start_of=start_of)
        sinks.append(timeline)
    if args.wav is None or args.play:
        sinks.append(PlaybackSink(device=args.output_device))
    lag = VoiceLag(args.lag_warning, status=lambda line: print(f"rtvoice dub: {line}", file=sys.stderr, flush=True))
    stage = DubStage(TtsEngine(voice, options, sinks), timeline, lag, catch_up=catch_up,
                     prepare_ahead=args.prepare_ahead, pacing=pacing, program_delay_s=args.program_delay,
                     on_cut=_say_cut, caster=caster,
                     units=units if args.voice_lines == "clause" and pacing is not None else None)
    code = run_captions(args, "dub", stage)
    if args.mix is not None:
        from rtvoice.pipeline.programme import mix_programme

        mix_programme(Path(args.input), args.wav, args.mix, args.program_delay)
        print(f"rtvoice dub: programme mix written to {args.mix} (source {args.program_delay:g} s late, ducked "
              f"under the voice)", file=sys.stderr)
    return code


def _say_cut(record: dict) -> None:
    """A condensed or dropped line, on the terminal (the JSONL gets its record from the stage)."""
    print(f"rtvoice dub: {record['message']}", file=sys.stderr, flush=True)
