"""Multilingual recognition accuracy, streaming against offline with the same model (a measurement, not a test).

    PYTHONPATH=. python scripts/multilingual_eval.py [--languages de,es,fr,pt,zh] [--auto] [--json FILE]

For each language of ../shared/data/speech_multi (RTVOICE_SHARED_DATA): its clips joined in manifest
order with ``--pause`` seconds of silence between them (a temporary WAV, deleted afterwards), through the
whole caption pipeline (file source → front end VAD/endpointer → streaming recognizer, as fast as
possible, virtual clock) with the packaged multilingual Whisper base, language given; ``--auto`` adds a
second streaming pass with ``--language auto``. Next to it, in the same run, the offline peers of the
same model:

- clips: every clip decoded whole, on its own, by rtvoice's recognizer (the language given);
- long-form: faster-whisper's ``transcribe`` of the joined audio (greedy, condition_on_previous_text,
  the language given) on the same CTranslate2 model (joined into a temporary folder).

WER (de, es, fr, pt) or CER (zh) with jiwer after rtvoice.metrics.text.normalize_multilingual, over all
of a language's words; Chinese output is converted to simplified characters with OpenCC (``t2s``, dev
requirement) first, because Whisper base often writes traditional ones and AISHELL's references are
simplified (without it, CER counts a script difference as an error). ``--json`` writes the figures and
the captions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def shared_data() -> Path:
    for candidate in (Path(os.environ.get("RTVOICE_SHARED_DATA", "")), REPO.parent / "shared" / "data"):
        if (candidate / "speech_multi" / "manifest.tsv").is_file():
            return candidate
    sys.exit("shared data not found: set RTVOICE_SHARED_DATA")


def joined_model_dir(folder: Path) -> Path:
    """The packaged multilingual model as a CTranslate2 folder (model.bin joined from its parts) for
    faster-whisper, which reads a folder."""
    from rtvoice.asr.whisper import MULTILINGUAL_MODEL
    from rtvoice.models import packaged_parts

    model, weights = packaged_parts(MULTILINGUAL_MODEL)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (folder / name).write_bytes(model.path(name).read_bytes())
    (folder / "model.bin").write_bytes(weights)
    return folder


def score(language: str, references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    from rtvoice.metrics.text import normalize_multilingual

    if language == "zh":
        try:
            import opencc
        except ImportError:
            print("opencc is not installed (requirements/dev.txt): zh CER counts traditional characters as errors")
        else:
            convert = opencc.OpenCC("t2s").convert
            hypotheses = [convert(h) for h in hypotheses]
    ref = " ".join(normalize_multilingual(r, language) for r in references)
    hyp = " ".join(normalize_multilingual(h, language) for h in hypotheses)
    if language == "zh":
        return jiwer.cer(ref.replace(" ", ""), hyp.replace(" ", ""))
    return jiwer.wer(ref, hyp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="de,es,fr,pt,zh")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pause", type=float, default=1.5, help="silence between clips (s)")
    parser.add_argument("--auto", action="store_true", help="also stream with --language auto")
    parser.add_argument("--no-long-form", action="store_true", help="skip faster-whisper's long-form peer")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf

    from rtvoice.asr import StreamingConfig, WhisperConfig, WhisperRecognizer
    from rtvoice.audio.sources import FileSource
    from rtvoice.pipeline.engine import CaptionCollector, CaptionPipeline, PipelineConfig

    folder = shared_data() / "speech_multi"
    with open(folder / "manifest.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    streaming = StreamingConfig()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        long_form_model = None
        if not args.no_long_form:
            import faster_whisper

            long_form_model = faster_whisper.WhisperModel(str(joined_model_dir(tmp)), device=args.device,
                                                          compute_type="int8", cpu_threads=args.threads)
        recognizers = {}

        def recognizer_for(language):
            # One model per language setting (the tokenizer holds the language); loaded once each.
            if language not in recognizers:
                recognizers[language] = WhisperRecognizer(WhisperConfig(language=language, device=args.device,
                                                                        threads=args.threads))
            return recognizers[language]

        for language in args.languages.split(","):
            clips = [r for r in rows if r["lang"] == language]
            audios = [sf.read(folder / r["wav"], dtype="float32")[0] for r in clips]
            pause = np.zeros(int(args.pause * 16000), np.float32)
            joined = np.concatenate([piece for audio in audios for piece in (audio, pause)])
            wav = tmp / f"{language}.wav"
            sf.write(wav, joined, 16000)
            references = [r["transcript"] for r in clips]
            result = {"language": language, "clips": len(clips), "audio_s": round(len(joined) / 16000, 1),
                      "metric": "cer" if language == "zh" else "wer"}
            passes = [("streaming", language)] + ([("streaming_auto", "auto")] if args.auto else [])
            for name, setting in passes:
                recognizer = recognizer_for(setting)
                collected = CaptionCollector()
                pipeline = CaptionPipeline(FileSource(wav), recognizer, [collected], streaming,
                                           config=PipelineConfig(clock="virtual"))
                stats = pipeline.run()
                finals = collected.finals
                result[name] = round(score(language, references, [e.text for e in finals]), 4)
                result[f"{name}_wall_s"] = round(stats["wall_seconds"], 1)
                result[f"{name}_finals"] = len(finals)
                if setting == "auto":
                    result["auto_languages"] = stats["asr"]["languages"]
                result[f"{name}_captions"] = [e.text for e in finals]
            recognizer = recognizer_for(language)
            t0 = time.perf_counter()
            clip_texts = [recognizer.transcribe(audio, word_timestamps=False).text for audio in audios]
            result["offline_clips"] = round(score(language, references, clip_texts), 4)
            result["offline_clips_s"] = round(time.perf_counter() - t0, 1)
            if long_form_model is not None:
                t0 = time.perf_counter()
                segments, _ = long_form_model.transcribe(str(wav), language=language, beam_size=1,
                                                         condition_on_previous_text=True, vad_filter=False)
                text = " ".join(s.text.strip() for s in segments)
                result["offline_long_form"] = round(score(language, references, [text]), 4)
                result["offline_long_form_s"] = round(time.perf_counter() - t0, 1)
            print(json.dumps({k: v for k, v in result.items() if not k.endswith("_captions")}), flush=True)
            results.append(result)
    load = os.getloadavg()
    print(f"\n{recognizers[next(iter(recognizers))].describe()}, {args.threads} threads; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    columns = ["streaming"] + (["streaming_auto"] if args.auto else []) + ["offline_clips"] + (
        [] if args.no_long_form else ["offline_long_form"])
    print("| language | metric | clips | audio s | " + " | ".join(columns) + " |")
    print("|---" * (4 + len(columns)) + "|")
    for r in results:
        print(f"| {r['language']} | {r['metric'].upper()} | {r['clips']} | {r['audio_s']} | "
              + " | ".join(f"{r[c]:.3f}" for c in columns) + " |")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "load_average": load}, indent=2,
                                        ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
