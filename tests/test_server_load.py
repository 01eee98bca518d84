"""A bounded load test of `rtvoice serve`: while a stream runs, 48 connections misbehave (bad first
messages, oversized frames, abrupt disconnects mid-stream, sockets that close at once). The server must not
crash, must not leak threads or file descriptors, and the running stream's captions must stay the same."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from asr_support import wer, whisper
from rtvoice.server.app import CaptionServer, RunningServer, ServerSettings
from rtvoice.server.protocol import Limits
from server_support import finals_text, get_json, joined, stream_recording
from speech_data import load_speech

ROUNDS = 12  # x 4 kinds of misbehaviour
CONFIG = json.dumps({"type": "config", "protocol": 1, "sample_rate": 16000, "format": "f32le"})


def threads_and_fds() -> tuple[int, int]:
    """OS threads of this process (Python's and native ones: front-end workers, decoder pools) and open fds."""
    return len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))


def misbehave(url: str, kind: str) -> None:
    try:
        with connect(url, open_timeout=10, compression=None, max_size=None) as ws:
            if kind == "bad_config":
                ws.send("{not json")
            elif kind == "oversized":
                ws.send(CONFIG)
                ws.recv(timeout=10)
                ws.send(b"\x00" * (64 * 1024 + 4))
            elif kind == "abrupt":
                ws.send(CONFIG)
                ws.recv(timeout=10)
                ws.send(load_speech("spk1_snt6")[:8000].tobytes())
                ws.socket.shutdown(socket.SHUT_RDWR)
                ws.socket.close()
                return
            elif kind == "instant":
                return
            try:
                while True:
                    ws.recv(timeout=10)
            except ConnectionClosed:
                pass
    except (OSError, ConnectionClosed, TimeoutError):
        pass  # a refused or cut connection is what this test is about; the server's state is checked


def test_misbehaving_clients_do_not_disturb_a_running_stream_or_leak():
    limits = Limits(max_frame_bytes=64 * 1024, config_timeout_s=2.0, stall_timeout_s=3.0)
    running = RunningServer(CaptionServer(whisper(), ServerSettings(port=0, max_streams=32, limits=limits))).start()
    try:
        audio = joined([load_speech(i) for i in ("spk1_snt1", "sense_and_sensibility_01_austen_64kb-0930",
                                                  "spk1_snt4")])
        reference = finals_text(stream_recording(running.url, audio, realtime=False))  # alone, also a warm-up
        time.sleep(0.5)
        before = threads_and_fds()

        result = {}
        steady = threading.Thread(target=lambda: result.update(
            events=stream_recording(running.url, audio, realtime=False, timeout=180)))
        steady.start()
        started = time.monotonic()
        for _ in range(ROUNDS):
            for kind in ("bad_config", "oversized", "abrupt", "instant"):
                misbehave(running.url, kind)
        hammer_s = time.monotonic() - started
        steady.join(180)
        assert not steady.is_alive()
        under_load = finals_text(result["events"])
        assert result["events"][-1]["type"] == "stats"
        assert wer([reference], [under_load]) <= 0.05, (reference, under_load)  # batching may pad differently

        def outcomes() -> dict:
            return {s.labels["outcome"]: s.value for s in running.server.metrics.streams.collect()[0].samples
                    if s.name.endswith("_total")}

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (get_json(f"{running.http}/healthz")["active_streams"]
                                               or threads_and_fds() > before
                                               or sum(outcomes().values()) < ROUNDS * 4 + 2):
            time.sleep(0.2)
        after = threads_and_fds()
        print(f"\nload: {ROUNDS * 4} misbehaving connections in {hammer_s:.1f} s beside a running stream; "
              f"threads {before[0]} -> {after[0]}, fds {before[1]} -> {after[1]}")
        assert get_json(f"{running.http}/healthz")["active_streams"] == 0
        assert after[0] <= before[0], f"threads leaked: {before[0]} -> {after[0]}"
        assert after[1] <= before[1], f"file descriptors leaked: {before[1]} -> {after[1]}"
        # Every connection is counted under how it ended (a slot still held by a stream finishing gives
        # "busy", which is right too); none failed inside the server.
        ended = outcomes()
        print(f"load: outcomes {ended}")
        assert sum(ended.values()) == ROUNDS * 4 + 2  # and the two steady streams
        assert ended.get("completed") == 2 and "internal" not in ended
        assert ended.get("bad_config", 0) >= ROUNDS // 2 and ended.get("too_large", 0) >= ROUNDS // 2
    finally:
        running.stop()
