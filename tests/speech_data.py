"""Loading the shared recordings by id (the folder is located by conftest.shared_data_dir)."""

from __future__ import annotations

import csv

import numpy as np

from conftest import shared_data_dir

__all__ = ["shared_data_dir", "speech_manifest", "load_speech", "utterance_ids"]


def speech_manifest() -> list[dict]:
    with open(shared_data_dir() / "speech" / "manifest.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def load_speech(utterance_id: str) -> np.ndarray:
    """A recording from speech/ as float32 mono 16 kHz in [-1, 1]."""
    import soundfile as sf

    row = next(r for r in speech_manifest() if r["id"] == utterance_id)
    audio, rate = sf.read(shared_data_dir() / "speech" / row["wav"], dtype="float32", always_2d=True)
    assert rate == 16000, f"{row['wav']} is {rate} Hz"
    return audio[:, 0].copy()


def utterance_ids() -> list[str]:
    """The 11 single utterances, in manifest order (dev_long.wav joins them in this order)."""
    return [r["id"] for r in speech_manifest() if r["id"] != "dev_long"]
