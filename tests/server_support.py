"""Helpers for the server tests: an in-process server on loopback, clients fed with real recordings."""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np

from rtvoice.server.client import StreamClient

CHUNK = 1600  # samples a message (0.1 s at 16 kHz)


def send_recording(client: StreamClient, audio: np.ndarray, realtime: bool, chunk: int = CHUNK) -> None:
    """Send float32 16 kHz audio in 0.1 s messages, paced in real time if `realtime`, then the end message."""
    start = time.monotonic()
    for i in range(0, len(audio), chunk):
        if realtime:
            delay = start + i / 16000 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        client.send_audio(audio[i:i + chunk])
    client.end()


def stream_recording(url: str, audio: np.ndarray, realtime: bool, timeout: float = 120.0, **options) -> list[dict]:
    """Every event the server sends for `audio` (ready first, stats last)."""
    with StreamClient(url, sample_rate=16000, fmt="f32le", realtime=realtime, **options) as client:
        events = [client.ready]
        send_recording(client, audio, realtime)
        events += list(client.events(timeout=timeout))
    return events


def finals_text(events: list[dict]) -> str:
    return " ".join(e["text"] for e in events if e["type"] == "final")


def get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def get_json(url: str) -> dict:
    return json.loads(get(url)[1])


def joined(recordings: list[np.ndarray], gap_s: float = 0.8) -> np.ndarray:
    """Recordings one after another with `gap_s` of silence between them (and after the last)."""
    gap = np.zeros(int(gap_s * 16000), np.float32)
    parts = []
    for audio in recordings:
        parts += [audio.astype(np.float32), gap]
    return np.concatenate(parts)
