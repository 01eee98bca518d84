"""Kokoro voices read back: character error rate per voice and its duration beside the Japanese style (a
measurement, not a test).

    PYTHONPATH=. python scripts/voice_readback.py [--voices ef_dora,em_alex,jm_kumo:es,...] [--sentences 12]

Each VOICE is a Kokoro speaker name, ``NAME:LANG`` to have it speak another language (``jm_kumo:es``: the
Japanese style speaking Spanish, the dub's voice before the native ones). Sentences, in order, the first
``--sentences`` of: es, the ``es`` column of ../shared/data/parallel/en-es.tsv; pt, the ``pt`` column of
en-pt.tsv; en, the ``en`` column of en-es.tsv; fr, the transcripts of speech_multi's FLEURS clips (long
sentences, so at most 6); it, the short sentences below (written for this script; no Italian set is shared).
Each sentence is synthesised alone (speed 1, ``rtvoice.tts.kokoro``), resampled to 16 kHz and transcribed by
the packaged multilingual Whisper base (faster-whisper, greedy, the language given). CER: jiwer over all of
a voice's sentences, after rtvoice.metrics.text.normalize_multilingual. ``audio_s``: the voice's total
duration over the sentences, and its ratio to the first ``jm_kumo`` row of the same language.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ITALIAN = ["Buongiorno a tutti, grazie di essere qui.", "Il treno per Roma parte alle otto.",
           "Oggi il cielo è sereno e fa caldo.", "Ho comprato il pane e il latte al mercato.",
           "La riunione è stata rinviata a domani mattina.", "Mio fratello lavora in una piccola libreria.",
           "Non ho capito la domanda, può ripetere?", "Abbiamo camminato lungo il fiume fino al ponte."]
DEFAULT_VOICES = "jm_kumo:es,ef_dora,em_alex,jm_kumo:pt,pf_dora,pm_alex,af_heart,am_michael,bf_emma,ff_siwis,if_sara"


def shared_data() -> Path:
    for candidate in (os.environ.get("RTVOICE_SHARED_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "parallel").is_dir():
            return Path(candidate)
    sys.exit("shared data not found: set RTVOICE_SHARED_DATA")


def sentences(language: str, count: int) -> list[str]:
    data = shared_data()

    def column(file: str, name: str) -> list[str]:
        with open(data / "parallel" / file, encoding="utf-8", newline="") as f:
            return [row[name] for row in csv.DictReader(f, delimiter="\t")]

    if language == "es":
        found = column("en-es.tsv", "es")
    elif language == "pt":
        found = column("en-pt.tsv", "pt")
    elif language == "en":
        found = column("en-es.tsv", "en")
    elif language == "fr":
        with open(data / "speech_multi" / "manifest.tsv", encoding="utf-8", newline="") as f:
            found = [row["transcript"] for row in csv.DictReader(f, delimiter="\t") if row["lang"] == "fr"][:6]
    elif language == "it":
        found = ITALIAN
    else:
        sys.exit(f"no sentences for {language!r}")
    return found[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", default=DEFAULT_VOICES, help=f"comma-separated (default {DEFAULT_VOICES})")
    parser.add_argument("--sentences", type=int, default=12, help="sentences per voice (default 12)")
    parser.add_argument("--threads", type=int, default=2, help="threads for the voice and for Whisper (default 2)")
    args = parser.parse_args()

    import jiwer
    import numpy as np
    import soxr
    from faster_whisper import WhisperModel

    from rtvoice.asr.whisper import MULTILINGUAL_MODEL
    from rtvoice.metrics.text import normalize_multilingual
    from rtvoice.models import packaged_parts
    from rtvoice.tts import kokoro_voices
    from rtvoice.tts.kokoro import KokoroVoice
    from rtvoice.tts.voice import VoiceOptions

    with tempfile.TemporaryDirectory() as tmp:
        model, weights = packaged_parts(MULTILINGUAL_MODEL)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (Path(tmp) / name).write_bytes(model.path(name).read_bytes())
        (Path(tmp) / "model.bin").write_bytes(weights)
        ear = WhisperModel(tmp, device="cpu", compute_type="int8", cpu_threads=args.threads)

    voices: dict[str, KokoroVoice] = {}
    kumo_audio_s: dict[str, float] = {}
    print("| voice | language | sex | sentences | CER | audio (s) | vs jm_kumo | synthesis RTF |")
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.voices.split(","):
        name, _, language = spec.partition(":")
        found = kokoro_voices.speaker(name)
        language = language or found.language
        if language not in voices:
            voices[language] = KokoroVoice(language, VoiceOptions(threads=args.threads))
        voice = voices[language]
        synthesizer = voice.synthesizer()
        texts = sentences(language, args.sentences)
        heard, audio_s, compute_s = [], 0.0, 0.0
        for text in texts:
            t0 = time.perf_counter()
            audio = np.concatenate([c.samples for c in synthesizer.stream(text, speaker=name)])
            compute_s += time.perf_counter() - t0
            audio_s += len(audio) / voice.sample_rate
            segments, _ = ear.transcribe(soxr.resample(audio, voice.sample_rate, 16000).astype(np.float32),
                                         language=language, beam_size=1, condition_on_previous_text=False)
            heard.append(" ".join(s.text.strip() for s in segments))
        cer = jiwer.cer([normalize_multilingual(t, language) for t in texts],
                        [normalize_multilingual(h, language) for h in heard])
        if name == "jm_kumo":
            kumo_audio_s.setdefault(language, audio_s)
        ratio = f"{audio_s / kumo_audio_s[language]:.2f}" if language in kumo_audio_s else "-"
        print(f"| {spec} | {language} | {found.sex} | {len(texts)} | {cer:.3f} | {audio_s:.1f} | {ratio} | "
              f"{compute_s / audio_s:.2f} |", flush=True)
        if os.environ.get("VOICE_READBACK_SHOW"):
            for text, said in zip(texts, heard):
                print(f"    {text!r} -> {said!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
