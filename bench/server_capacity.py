"""Capacity of `rtvoice serve`: concurrent real-time streams against final-caption latency, with and without
cross-stream batching.

Each configuration starts an in-process server (loopback, the packaged tiny.en int8 model loaded once)
and N clients, each sending real recordings (the shared speech utterances, rotated so no two streams say
the same thing at the same time, joined by 0.8 s of silence) paced in real time in 0.1 s messages. A final's
latency is measured by the client: the time it receives the final minus the time at which the end of the
final's last word had been sent (stream clock of the client). A configuration holds when the final p95 is
at most 1.0 s and no stream was still behind real time at its end.

    python -m bench.server_capacity --streams 1 2 4 --seconds 20          # batching on and off
    python -m bench.server_capacity --streams 4 --batching on --plot capacity.png

Figures depend on the machine and its load; run both modes in the same invocation to compare them.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from speech_data import load_speech, utterance_ids  # noqa: E402

from rtvoice.asr import WhisperConfig, WhisperRecognizer  # noqa: E402
from rtvoice.server.app import CaptionServer, RunningServer, ServerSettings  # noqa: E402
from rtvoice.server.client import StreamClient  # noqa: E402

CHUNK = 1600  # samples a message (0.1 s)


def stream_audio(index: int, seconds: float) -> np.ndarray:
    """Utterances rotated by `index`, joined by 0.8 s of silence, whole utterances up to `seconds`."""
    ids = utterance_ids()
    ids = ids[index % len(ids):] + ids[:index % len(ids)]
    gap = np.zeros(int(0.8 * 16000), np.float32)
    parts, total = [], 0
    while total < seconds * 16000:
        for utterance in ids:
            audio = load_speech(utterance)
            parts += [audio, gap]
            total += len(audio) + len(gap)
            if total >= seconds * 16000:
                break
    return np.concatenate(parts)


def run_client(url: str, audio: np.ndarray, out: dict) -> None:
    latencies = []
    with StreamClient(url, sample_rate=16000, fmt="f32le", realtime=True, outputs=("final",)) as client:
        start = time.monotonic()

        def take(events):
            now = time.monotonic()
            for event in events:
                if event["type"] == "final":
                    latencies.append(now - (start + event["end"]))
                elif event["type"] == "stats":
                    out["stats"] = event

        for i in range(0, len(audio), CHUNK):
            delay = start + i / 16000 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            client.send_audio(audio[i:i + CHUNK])
            take(client.poll())
        client.end()
        for event in client.events(timeout=120):
            take([event])
    out["latencies"] = latencies


def measure(recognizer, streams: int, batching: bool, seconds: float) -> dict:
    server = CaptionServer(recognizer, ServerSettings(port=0, max_streams=streams, batching=batching))
    running = RunningServer(server).start()
    try:
        outs = [{} for _ in range(streams)]
        threads = [threading.Thread(target=run_client, args=(running.url, stream_audio(k, seconds), outs[k]))
                   for k in range(streams)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        running.stop()
    latencies = [x for o in outs for x in o.get("latencies", [])]
    stats = [o.get("stats", {}) for o in outs]
    overload = [s.get("overload", {}) for s in stats]
    shared = server.recognizer
    row = {
        "streams": streams, "batching": batching, "finals": len(latencies),
        "final_p50_s": round(float(np.percentile(latencies, 50)), 3) if latencies else None,
        "final_p95_s": round(float(np.percentile(latencies, 95)), 3) if latencies else None,
        "lag_max_s": round(max((o.get("lag_s_max", 0.0) for o in overload), default=0.0), 3),
        "behind_at_end": any(o.get("behind_at_end") for o in overload),
        "skipped_partials": sum(s.get("asr", {}).get("skipped_partials", 0) for s in stats),
        "dropped_samples": sum(s.get("source", {}).get("dropped", 0) for s in stats),
        "mean_batch": round(shared.batched_calls / max(shared.batches, 1), 2),
        "complete": all("stats" in o for o in outs),
    }
    row["holds"] = bool(row["complete"] and row["final_p95_s"] is not None and row["final_p95_s"] <= 1.0
                        and not row["behind_at_end"])
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batching", choices=("on", "off", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per stream (s)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 threads (0: its default)")
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    parser.add_argument("--plot", type=Path, help="write latency p50/p95 against streams as a PNG")
    args = parser.parse_args(argv)
    recognizer = WhisperRecognizer(WhisperConfig(device=args.device, threads=args.threads))
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.batching]
    print(f"server capacity: {recognizer.describe()}, {args.seconds:g} s of real-time audio per stream")
    print(f"{'streams':>7} {'batching':>8} {'finals':>6} {'p50 s':>6} {'p95 s':>6} {'lag max':>7} "
          f"{'skipped':>7} {'batch':>5}  holds (p95 <= 1.0 s, not behind at the end)")
    rows = []
    for streams in args.streams:
        for batching in modes:
            row = measure(recognizer, streams, batching, args.seconds)
            rows.append(row)
            print(f"{row['streams']:>7} {'on' if batching else 'off':>8} {row['finals']:>6} "
                  f"{row['final_p50_s'] or float('nan'):>6.2f} {row['final_p95_s'] or float('nan'):>6.2f} "
                  f"{row['lag_max_s']:>7.2f} {row['skipped_partials']:>7} {row['mean_batch']:>5.2f}  "
                  f"{'yes' if row['holds'] else 'no'}", flush=True)
    for batching in modes:
        held = [r["streams"] for r in rows if r["batching"] == batching and r["holds"]]
        print(f"batching {'on' if batching else 'off'}: most streams within final p95 <= 1.0 s: "
              f"{max(held) if held else 0} (of {', '.join(map(str, args.streams))} tried)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for batching in modes:
            mine = [r for r in rows if r["batching"] == batching and r["final_p95_s"] is not None]
            label = "batching" if batching else "no batching"
            ax.plot([r["streams"] for r in mine], [r["final_p50_s"] for r in mine], "o--", label=f"{label} p50")
            ax.plot([r["streams"] for r in mine], [r["final_p95_s"] for r in mine], "o-", label=f"{label} p95")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xlabel("concurrent real-time streams")
        ax.set_ylabel("final caption latency (s)")
        ax.set_title(recognizer.describe())
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
