"""The voice on a GPU when one is present (after scripts/use_onnxruntime_gpu.sh); skipped, with the
reason, when not. On a CPU-only machine the fallback must be silent: no ONNX Runtime error lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tts_helpers import SENTENCES, deterministic, voice

from rtvoice.tts import VoiceOptions, choose_providers, load_voice, synthesize

REPO = Path(__file__).resolve().parents[1]
CHOICE = choose_providers("auto")


def test_provider_choice_is_explained():
    assert CHOICE.reason
    assert CHOICE.providers[-1] == "CPUExecutionProvider"  # CPU always stays as the last resort
    assert choose_providers("cpu").device == "cpu"
    with pytest.raises(ValueError):
        choose_providers("metal")


def test_loading_the_voice_prints_nothing_when_it_falls_back():
    """Whatever this machine has, loading the voice writes no ONNX Runtime errors or warnings."""
    code = ("import logging; from rtvoice.tts import load_voice; v = load_voice(); "
            "print(v.device, v.streaming)")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [CHOICE.device, "True"]
    assert proc.stderr == ""


@pytest.mark.gpu
@pytest.mark.skipif(not CHOICE.on_gpu, reason=f"voice on CPU: {CHOICE.reason}")
def test_gpu_synthesis_matches_cpu():
    gpu = load_voice(None, VoiceOptions(providers="cuda"))
    assert gpu.device == "cuda" and gpu.streaming
    for text in SENTENCES[:2]:
        ours = synthesize(gpu, text, deterministic())
        reference = synthesize(voice(), text, deterministic())
        assert len(ours) == len(reference)
        assert np.corrcoef(ours, reference)[0, 1] > 0.99
