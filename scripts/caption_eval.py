"""Accuracy and latency of live captions on every English speech set (a measurement, not a test).

    PYTHONPATH=. python scripts/caption_eval.py [--sets speech,speech_more] [--context text] [--realtime]
    PYTHONPATH=. python scripts/caption_eval.py --compute-free --no-offline --file shuffled.wav:shuffled.txt

For each set of ../shared/data (RTVOICE_SHARED_DATA): its long file (speech/dev_long.wav, 53 s;
speech_more/long.wav, 437 s) through the whole caption pipeline (source → front end VAD/endpointer →
streaming recognizer), as fast as possible (deterministic captions; latency on the virtual clock, which
counts compute time as if live and so is only meaningful while the machine keeps up) or paced in real time
(``--realtime``). Next to it, in the same run, the offline peers of the same model:

- long-form: faster-whisper's ``transcribe`` of the same long file (greedy, condition_on_previous_text),
- clips: every utterance of the set decoded whole, on its own, by rtvoice's recognizer.

WER with jiwer after rtvoice.metrics.text.normalize_english, over all words of the set. ``--json`` writes
every figure and the final captions. ``--compute-free``: the virtual clock counts no compute, so the latencies
are the policy's own and the same under any load (deterministic). ``--file WAV:TRANSCRIPT`` evaluates another
arrangement of the clips (scripts/join_clips.py makes them) after the sets (``--sets ''`` for none).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def shared_data() -> Path:
    for candidate in (Path(os.environ.get("RTVOICE_SHARED_DATA", "")), REPO.parent / "shared" / "data"):
        if (candidate / "speech" / "manifest.tsv").is_file():
            return candidate
    sys.exit("shared data not found: set RTVOICE_SHARED_DATA")


def main() -> int:
    from rtvoice.asr import WhisperConfig
    from rtvoice.asr.config import SCHEDULES
    from rtvoice.asr.streaming import COMMIT_BOUNDARIES, CONTEXTS, StreamingConfig
    from rtvoice.commands.caption import decoder_threads_argument

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="speech,speech_more", help="comma-separated folders of the shared data")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--decoder-threads", type=decoder_threads_argument, default=WhisperConfig.decoder_threads,
                        help="as rtvoice caption's: auto, or the threads of the decoder's own model copy (0: one copy)")
    parser.add_argument("--realtime", action="store_true", help="pace the long files in real time")
    parser.add_argument("--context", choices=CONTEXTS, default=StreamingConfig.context)
    parser.add_argument("--partial-interval", type=float, default=StreamingConfig.partial_interval_s)
    parser.add_argument("--agreement", type=int, default=StreamingConfig.agreement, help="LocalAgreement-n")
    parser.add_argument("--commit-boundary", choices=COMMIT_BOUNDARIES, default=StreamingConfig.commit_boundary)
    parser.add_argument("--min-word-probability", type=float, default=StreamingConfig.min_word_probability)
    parser.add_argument("--no-prepared-finals", action="store_true")
    parser.add_argument("--no-prepare-on-silence", action="store_true",
                        help="prepare finals at the next decode point in the silence, not once the VAD has told")
    parser.add_argument("--no-prepare-fallback", action="store_true",
                        help="a prepared final that looks hallucinated falls back to the 30 s window after the "
                             "end, not in the silence")
    parser.add_argument("--freeze-committed", type=float, default=StreamingConfig.freeze_committed_s,
                        help="seconds of committed words before earlier ones are frozen (0: never)")
    parser.add_argument("--sure-retry", type=float, default=StreamingConfig.sure_retry_s,
                        help="seconds of segment audio from which partials that hear nothing after their audio "
                             "context retry without it, committing only sure words (context_retry_s or more: off)")
    parser.add_argument("--schedule", choices=SCHEDULES, default=StreamingConfig.schedule,
                        help="live decode points: fixed, or compute (a partial yields to the final in a trailing "
                             "silence; takes effect with --realtime)")
    parser.add_argument("--compute-free", action="store_true", help="latency on a clock that counts no compute")
    parser.add_argument("--file", action="append", default=[], metavar="WAV:TRANSCRIPT",
                        help="also a joined file and its transcript (text file)")
    parser.add_argument("--no-offline", action="store_true", help="skip the offline peers")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--verbose", action="store_true", help="print the final captions")
    args = parser.parse_args()

    import jiwer
    import soundfile as sf

    from rtvoice.asr import WhisperRecognizer
    from rtvoice.audio.sources import FileSource
    from rtvoice.metrics.percentiles import percentiles
    from rtvoice.metrics.text import normalize_english
    from rtvoice.pipeline.bench import offline_long_form
    from rtvoice.pipeline.engine import CaptionCollector, CaptionPipeline, PipelineConfig

    recognizer = WhisperRecognizer(WhisperConfig(device=args.device, threads=args.threads,
                                                  decoder_threads=args.decoder_threads))
    if args.compute_free and args.realtime:
        parser.error("--compute-free is for files read as fast as possible, not --realtime")
    clock = "real" if args.realtime else "compute-free" if args.compute_free else "virtual"
    streaming = StreamingConfig(partial_interval_s=args.partial_interval, context=args.context,
                                agreement=args.agreement, commit_boundary=args.commit_boundary,
                                min_word_probability=args.min_word_probability,
                                prepare_finals=not args.no_prepared_finals,
                                prepare_on_silence=not args.no_prepare_on_silence,
                                prepare_fallback=not args.no_prepare_fallback,
                                freeze_committed_s=args.freeze_committed, sure_retry_s=args.sure_retry,
                                schedule=args.schedule)
    pacing = "paced in real time" if args.realtime else "as fast as possible (virtual clock)"
    print(f"{recognizer.describe()}, {args.threads} threads, decoder threads {args.decoder_threads}, "
          f"{pacing}, context={streaming.context}, "
          f"agreement={streaming.agreement}, commit boundary {streaming.commit_boundary} "
          f"(p >= {streaming.min_word_probability}), prepared finals {streaming.prepare_finals} "
          f"({'on silence' if streaming.prepare_on_silence else 'at decode points'}, "
          f"{'falling back in the silence' if streaming.prepare_fallback else 'falling back after the end'}), "
          f"partial interval {streaming.partial_interval_s} s, freeze committed after {streaming.freeze_committed_s} s, "
          f"sure retries from {streaming.sure_retry_s} s, {streaming.schedule} schedule"
          f"{', compute-free clock' if args.compute_free else ''}")
    inputs = []
    for name in filter(None, args.sets.split(",")):
        folder = shared_data() / name
        with open(folder / "manifest.tsv", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        long_row = next(r for r in rows if r["id"] in ("dev_long", "long"))
        inputs.append((name, folder / long_row["wav"], long_row["transcript"],
                       [dict(r, path=folder / r["wav"]) for r in rows if r is not long_row]))
    for spec in args.file:
        wav, _, text = spec.partition(":")
        inputs.append((Path(wav).stem, Path(wav), Path(text).read_text(encoding="utf-8"), []))
    results = []
    for name, wav, transcript, clips in inputs:
        reference = normalize_english(transcript)
        collected = CaptionCollector()
        pipeline = CaptionPipeline(FileSource(wav, realtime=args.realtime), recognizer, [collected], streaming,
                                   config=PipelineConfig(clock=clock))
        stats = pipeline.run()
        finals = collected.finals
        streamed = normalize_english(" ".join(e.text for e in finals))
        latency = pipeline.latency
        committed, final = percentiles(latency.word_committed), percentiles(latency.final_after_speech_end)
        asr = stats["asr"]
        result = {
            "set": name, "file": str(wav), "audio_s": round(stats["audio_seconds"], 1),
            "streaming_wer": round(jiwer.wer(reference, streamed), 4),
            "committed_p50_s": committed["p50"], "committed_p95_s": committed["p95"], "final_p95_s": final["p95"],
            "finals": len(finals), "fallbacks": asr["fallbacks"], "context_resets": asr["context_resets"],
            "context_retries": asr["context_retries"], "skipped_partials": asr["skipped_partials"],
            "discarded_partials": asr["discarded_partials"], "prepared_finals": asr["prepared_finals"],
            "prepared_unused": asr["prepared_unused"], "freezes": asr["freezes"],
            "partials_yielded": asr["partials_yielded"],
            "partial_decode_s_p50": asr["partial_decode_s_p50"], "partial_decode_s_p95": asr["partial_decode_s_p95"],
            "final_decode_s_p95": asr["final_decode_s_p95"], "wall_s": round(stats["wall_seconds"], 1),
        }
        if not args.no_offline:
            texts, seconds = offline_long_form(recognizer, [wav])
            result["offline_long_form_wer"] = round(jiwer.wer(reference, normalize_english(texts[0])), 4)
            result["ratio"] = (round(result["streaming_wer"] / result["offline_long_form_wer"], 3)
                               if result["offline_long_form_wer"] else None)
        if not args.no_offline and clips:
            t0 = time.perf_counter()
            clip_refs = [normalize_english(r["transcript"]) for r in clips]
            clip_hyps = [normalize_english(recognizer.transcribe(sf.read(r["path"], dtype="float32")[0],
                                                                 word_timestamps=False).text) for r in clips]
            result["clips_offline_wer"] = round(jiwer.wer(" ".join(clip_refs), " ".join(clip_hyps)), 4)
            result["clips_s"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(result), flush=True)
        if args.verbose:
            for e in finals:
                print(f"  [{e.start:7.2f} {e.end:7.2f}] {e.text}")
        result["captions"] = [e.text for e in finals]
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps({"recognizer": recognizer.describe(), "context": streaming.context,
                                         "agreement": streaming.agreement, "realtime": args.realtime,
                                         "sets": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
