"""Where the committed-word latency tail comes from: each word's commit latency, and whether its final or a
partial committed it (a measurement, not a test).

    PYTHONPATH=. python scripts/commit_tail_eval.py [--sets speech,speech_more] [--file WAV:TRANSCRIPT]
        [--kw '{"sure_retry_s": 1.0}'] [--realtime] [--json out.json]

Each set's long file (and each ``--file``) through the caption pipeline on the compute-free clock (only the
audio's arrival moves it: the latencies are the policy's own, deterministic under any load) or paced in
real time. A word's commit latency is the first emission time whose committed text holds it (its final's if
no partial did) minus the time its last sample arrived, in seconds. Prints per file: WER, committed p50 /
p95, final p95, how many of the words at or above p95 were committed only by their final, and the pipeline's
recognizer counters, then the slowest finals: how each was decoded (prepared while the endpointer waited, or
at the end; fell back to the 30 s window; retried without its audio context), its decode's compute and its
length. ``--kw``: StreamingConfig fields as JSON. ``--json``: every word's and every final's row.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_eval import shared_data  # noqa: E402  (also puts the checkout on sys.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="speech,speech_more", help="comma-separated folders of the shared data")
    parser.add_argument("--file", action="append", default=[], metavar="WAV:TRANSCRIPT",
                        help="also a joined file and its transcript (text file)")
    parser.add_argument("--kw", default="{}", help="StreamingConfig fields, as a JSON object")
    parser.add_argument("--realtime", action="store_true", help="pace the files in real time")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every word's row here")
    args = parser.parse_args()

    import jiwer
    import numpy as np

    from rtvoice.asr import WhisperConfig, WhisperRecognizer
    from rtvoice.asr.streaming import StreamingConfig
    from rtvoice.audio.sources import FileSource
    from rtvoice.metrics.latency import _matched_prefix
    from rtvoice.metrics.text import normalize_english, normalize_words
    from rtvoice.pipeline.engine import CaptionCollector, CaptionPipeline, PipelineConfig

    streaming = StreamingConfig(**json.loads(args.kw))
    recognizer = WhisperRecognizer(WhisperConfig(threads=args.threads))
    data = shared_data()
    inputs = []
    for name in filter(None, args.sets.split(",")):
        rows = list(csv.DictReader(open(data / name / "manifest.tsv"), delimiter="\t"))
        row = next(r for r in rows if r["id"] in ("dev_long", "long"))
        inputs.append((name, data / name / row["wav"], row["transcript"]))
    for spec in args.file:
        wav, _, transcript = spec.partition(":")
        inputs.append((Path(wav).stem, Path(wav), Path(transcript).read_text()))

    class FinalTrace:
        """How each final was decoded: the recognizer's counters read as the final is emitted (the listener
        runs in the caption thread, right after the decode)."""

        def __init__(self):
            self.streaming, self.rows, self._last = None, [], {}

        def write(self, event):
            if not event.is_final:
                return
            stats = self.streaming.stats
            counts = {k: getattr(stats, k) for k in ("prepared_finals", "fallbacks", "context_retries")}
            changed = {k: counts[k] - self._last.get(k, 0) for k in counts}
            self._last = counts
            self.rows.append(dict(segment=event.segment, latency_s=event.latency, words=len(event.words),
                                  audio_s=round(event.end - event.start, 2), prepared=bool(changed["prepared_finals"]),
                                  fell_back=bool(changed["fallbacks"]), retried=bool(changed["context_retries"]),
                                  decode_s=stats.final_decode_s[-1] if stats.final_decode_s else None,
                                  text=event.text))

    out = {}
    for name, wav, reference in inputs:
        collected, trace = CaptionCollector(), FinalTrace()
        pipeline = CaptionPipeline(FileSource(wav, realtime=args.realtime), recognizer, [collected, trace], streaming,
                                   config=PipelineConfig(clock="real" if args.realtime else "compute-free"))
        trace.streaming = pipeline.streaming
        stats = pipeline.run()
        events = collected.events
        arrival = pipeline.latency.wall_time_of
        partials: dict[int, list] = {}
        rows = []
        for event in events:
            if not event.is_final:
                partials.setdefault(event.segment, []).append(event)
                continue
            words = [(part, w.end) for w in event.words for part in normalize_words(w.text).split()]
            texts = [t for t, _ in words]
            first_commit = [None] * len(texts)
            for partial in partials.get(event.segment, []):
                for i in range(_matched_prefix(normalize_words(partial.committed).split(), texts)):
                    if first_commit[i] is None:
                        first_commit[i] = partial.emitted_at
            for i, (text, end) in enumerate(words):
                by_final = first_commit[i] is None
                at = event.emitted_at if by_final else first_commit[i]
                rows.append(dict(segment=event.segment, index=i, from_end=len(words) - 1 - i, word=text,
                                 end_s=end, latency_s=at - arrival(int(round(end * 16000))), by_final=by_final))
        latency = np.array([r["latency_s"] for r in rows])
        p95 = np.percentile(latency, 95)
        tail = [r for r in rows if r["latency_s"] >= p95]
        finals = [e.latency for e in events if e.is_final and e.latency is not None]
        hypothesis = normalize_english(" ".join(e.text for e in events if e.is_final))
        wer = jiwer.wer(normalize_english(reference), hypothesis)
        print(f"{name}: WER {wer:.2%}, {len(rows)} words, committed p50 {np.percentile(latency, 50):.3f} s, "
              f"p95 {p95:.3f} s, final p95 {np.percentile(finals, 95):.3f} s; of the {len(tail)} words at or "
              f"above p95, {sum(r['by_final'] for r in tail)} committed only by their final, "
              f"{sum(r['index'] < 3 for r in tail)} among their segment's first three")
        print("  " + json.dumps(stats["asr"]))
        slowest = sorted((r for r in trace.rows if r["latency_s"] is not None), key=lambda r: -r["latency_s"])
        for r in slowest[:max(8, len(slowest) // 20 + 1)]:
            how = "prepared" if r["prepared"] else "at the end" + (", fell back" if r["fell_back"] else "")
            how += ", context retried" if r["retried"] else ""
            print(f"  final {r['latency_s']:.3f} s: {how}, decode {r['decode_s']:.3f} s, {r['audio_s']:.1f} s of "
                  f"speech, {r['words']} words: {r['text'][:60]!r}")
        out[name] = dict(rows=rows, wer=wer, final_latency_s=finals, finals=trace.rows, stats=stats["asr"])
    if args.json:
        args.json.write_text(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
