"""The measurements of scripts/gpu_check.sh (run it, not this file): one table of rtvoice on CUDA."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from speech_data import load_speech, utterance_ids  # noqa: E402

ROWS: list[tuple[str, str]] = []


def row(name: str, value: str) -> None:
    ROWS.append((name, value))
    print(f"  {name}: {value}", flush=True)


def whisper_rows() -> None:
    from rtvoice.asr import WhisperConfig, WhisperRecognizer

    recognizer = WhisperRecognizer(WhisperConfig(device="cuda"))
    audios = [load_speech(i) for i in utterance_ids()]
    recognizer.transcribe(audios[0])  # warm-up (CUDA kernels, memory pools)
    encode = decode = align = 0.0
    for audio in audios:
        t = recognizer.transcribe(audio)
        encode, decode, align = encode + t.encode_s, decode + t.decode_s, align + t.align_s
    seconds = sum(len(a) for a in audios) / 16000
    n = len(audios)
    row(f"Whisper {recognizer.describe()}", f"encode {encode / n * 1000:.1f} ms, decode {decode / n * 1000:.1f} ms, "
        f"align {align / n * 1000:.1f} ms per utterance; RTF {(encode + decode + align) / seconds:.4f} "
        f"({n} utterances, {seconds:.1f} s)")
    from rtvoice.asr.whisper import DecodeRequest

    t0 = time.perf_counter()
    recognizer.transcribe_batch([DecodeRequest(a, word_timestamps=False) for a in audios[:8]])
    batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    for a in audios[:8]:
        recognizer.transcribe(a, word_timestamps=False)
    single = time.perf_counter() - t0
    row("Whisper batch of 8 vs one by one", f"{batch * 1000:.0f} ms vs {single * 1000:.0f} ms "
        f"({single / batch:.2f}x)")


def voice_rows() -> None:
    from rtvoice.tts import VoiceOptions, load_voice
    from rtvoice.tts.engine import TtsEngine

    voice = load_voice(None, VoiceOptions(providers="cuda"))
    if voice.device != "cuda":
        row("voice", f"not on CUDA ({voice.device}): first-audio figure not taken")
        return
    firsts = []
    with TtsEngine(voice) as engine:
        for text in ["Warm-up sentence.", "The captions are on screen.", "A second line follows the first.",
                     "Every stream has its own pipeline.", "The model is loaded once."]:
            utterance = engine.speak(text)
            utterance.wait(60)
            firsts.append(utterance.first_audio_s)
    firsts = [f for f in firsts[1:] if f is not None]
    row("voice first audio on CUDAExecutionProvider", f"p50 {np.median(firsts) * 1000:.1f} ms, "
        f"max {max(firsts) * 1000:.1f} ms ({len(firsts)} sentences)")


def capacity_rows() -> None:
    from bench.server_capacity import measure
    from rtvoice.asr import WhisperConfig, WhisperRecognizer

    recognizer = WhisperRecognizer(WhisperConfig(device="cuda"))
    held = 0
    for streams in (1, 4, 8, 16):
        r = measure(recognizer, streams, batching=True, seconds=15)
        row(f"server, {streams} real-time streams, batching", f"final p50 {r['final_p50_s']} s, p95 "
            f"{r['final_p95_s']} s, lag max {r['lag_max_s']} s, mean batch {r['mean_batch']}"
            f"{'' if r['holds'] else ' (over the bound)'}")
        if not r["holds"]:
            break
        held = streams
    row("server capacity with batching (final p95 <= 1.0 s)", f"{held} streams (tried 1, 4, 8, 16)")


def main() -> int:
    started = time.monotonic()
    print("gpu_check: measuring", flush=True)
    for part in (whisper_rows, voice_rows, capacity_rows):
        try:
            part()
        except Exception as error:  # one failing part still leaves the others in the table
            row(part.__name__.replace("_rows", ""), f"FAILED: {type(error).__name__}: {error}")
    width = max(len(name) for name, _ in ROWS)
    print(f"\n{'measurement':<{width}} | result")
    print(f"{'-' * width}-|-{'-' * 40}")
    for name, value in ROWS:
        print(f"{name:<{width}} | {value}")
    print(f"\ngpu_check: {time.monotonic() - started:.0f} s")
    return 1 if any("FAILED" in value for _, value in ROWS) else 0


if __name__ == "__main__":
    raise SystemExit(main())
