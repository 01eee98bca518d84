"""Shared fixtures: the team's real recordings in ../shared/data (beside the checkout)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    candidates = [REPO.parent / "shared" / "data"]
    if os.environ.get("RTVOICE_SHARED_DATA"):
        candidates.insert(0, Path(os.environ["RTVOICE_SHARED_DATA"]))
    for candidate in candidates:
        if (candidate / "speech" / "manifest.tsv").is_file():
            return candidate
    raise FileNotFoundError(
        f"shared test data not found (looked in {', '.join(map(str, candidates))}); "
        "set RTVOICE_SHARED_DATA to the folder holding speech/ and noise/"
    )


@dataclass(frozen=True)
class Recording:
    id: str
    path: Path
    duration_s: float
    sample_rate: int
    text: str  # transcript (speech) or kind (noise)

    def load(self) -> np.ndarray:
        import soundfile as sf

        audio, rate = sf.read(self.path, dtype="float32")
        assert rate == self.sample_rate
        return audio


def _read_manifest(folder: Path, text_column: str) -> list[Recording]:
    with open(folder / "manifest.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        Recording(r["id"], folder / r["wav"], float(r["duration_s"]), int(r["sample_rate"]), r[text_column])
        for r in rows
    ]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def speech_recordings(shared_data) -> list[Recording]:
    """The 11 single utterances (dev_long, their concatenation, excluded)."""
    return [r for r in _read_manifest(shared_data / "speech", "transcript") if r.id != "dev_long"]


@pytest.fixture(scope="session")
def dev_long(shared_data) -> Recording:
    return next(r for r in _read_manifest(shared_data / "speech", "transcript") if r.id == "dev_long")


@pytest.fixture(scope="session")
def more_speech_recordings(shared_data) -> list[Recording]:
    """speech_more/: 58 more English utterances (other speakers, other sources; long, their concatenation,
    excluded)."""
    return [r for r in _read_manifest(shared_data / "speech_more", "transcript") if r.id != "long"]


@pytest.fixture(scope="session")
def noise_recordings(shared_data) -> list[Recording]:
    return _read_manifest(shared_data / "noise", "kind")


def pytest_report_header(config):
    import rtvoice._core

    return f"rtvoice._core: {rtvoice._core.__file__}"


def pytest_sessionstart(session):
    # `make asan` stages a sanitized build; make sure that is what the tests exercise.
    if os.environ.get("RTVOICE_SANITIZED"):
        import rtvoice._core

        assert "/build/asan/" in rtvoice._core.__file__, rtvoice._core.__file__
