"""Accuracy and latency of live captions on the shared recordings (a measurement, not a test).

    PYTHONPATH=. RTVOICE_SHARED_DATA=/work/shared/data python scripts/caption_eval.py [--threads 2] [--realtime]

- Offline: each of the 11 utterances decoded whole by the same model (WhisperRecognizer.transcribe).
- Streaming: dev_long.wav (the 11 utterances joined by pauses) through the whole caption pipeline
  (source → front end VAD/endpointer → streaming recognizer), as fast as possible (deterministic) or
  paced in real time (``--realtime``: the latency figures).
- WER with jiwer after rtvoice.metrics.text.normalize_english, over all words of all utterances.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import jiwer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def shared_data() -> Path:
    for candidate in (Path(os.environ.get("RTVOICE_SHARED_DATA", "")), REPO.parent / "shared" / "data"):
        if (candidate / "speech" / "manifest.tsv").is_file():
            return candidate
    sys.exit("shared data not found: set RTVOICE_SHARED_DATA")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--realtime", action="store_true", help="pace dev_long in real time (latency figures)")
    parser.add_argument("--prompt", action="store_true", help="prompt each segment with the previous final")
    parser.add_argument("--partial-interval", type=float, default=0.3)
    parser.add_argument("--agreement", type=int, default=None, help="LocalAgreement-n (default: StreamingConfig's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--verbose", action="store_true", help="print the final captions")
    args = parser.parse_args()

    import soundfile as sf

    from rtvoice.asr import StreamingConfig, WhisperConfig, WhisperRecognizer
    from rtvoice.metrics.text import normalize_english
    from rtvoice.pipeline.engine import CaptionPipeline
    from rtvoice.audio.sources import FileSource

    data = shared_data() / "speech"
    with open(data / "manifest.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    utterances = [r for r in rows if r["id"] != "dev_long"]
    long_row = next(r for r in rows if r["id"] == "dev_long")
    recognizer = WhisperRecognizer(WhisperConfig(device=args.device, threads=args.threads))

    refs = [normalize_english(r["transcript"]) for r in utterances]
    offline = [normalize_english(recognizer.transcribe(sf.read(data / r["wav"], dtype="float32")[0],
                                                       word_timestamps=False).text) for r in utterances]
    offline_wer = jiwer.wer(" ".join(refs), " ".join(offline))

    finals = []

    class Collect:
        def write(self, event):
            if event.is_final:
                finals.append(event)

    streaming = StreamingConfig(partial_interval_s=args.partial_interval, condition_on_previous=args.prompt,
                                **({"agreement": args.agreement} if args.agreement else {}))
    pipeline = CaptionPipeline(FileSource(data / long_row["wav"], realtime=args.realtime), recognizer, [Collect()],
                               streaming)
    stats = pipeline.run()
    stream_text = normalize_english(" ".join(e.text for e in finals))
    streaming_wer = jiwer.wer(" ".join(refs), stream_text)
    result = {
        "recognizer": recognizer.describe(), "threads": args.threads, "realtime": args.realtime,
        "prompt": args.prompt, "offline_wer": round(offline_wer, 4), "streaming_wer": round(streaming_wer, 4),
        "ratio": round(streaming_wer / offline_wer, 3) if offline_wer else None,
        "finals": [e.to_dict() for e in finals], "offline": offline,
        "stats": stats,
    }
    print(f"{recognizer.describe()}, {args.threads} threads, dev_long "
          f"{'paced in real time' if args.realtime else 'as fast as possible'}, prompt={args.prompt}, "
          f"agreement={streaming.agreement}, partial interval {streaming.partial_interval_s} s")
    print(f"offline WER {offline_wer:.4f}  streaming WER {streaming_wer:.4f}  ({len(finals)} finals)")
    if args.verbose:
        for e in finals:
            print(f"  [{e.start:6.2f} {e.end:6.2f}] {e.text}")
    for line in pipeline.latency.report_lines():
        print(line)
    asr = stats["asr"]
    print(f"partial decodes {asr['partial_decodes']} (skipped {asr['skipped_partials']}, discarded "
          f"{asr['discarded_partials']}), fallbacks {asr['fallbacks']}, decode p50 partial "
          f"{asr['partial_decode_s_p50']} s final {asr['final_decode_s_p50']} s; "
          f"{stats['audio_seconds']:.1f} s audio in {stats['wall_seconds']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
