"""`rtvoice bench`: the whole chain on a short real recording with the virtual clock; budgets gate the exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, speech_recordings):
    """A two-utterance dataset in the shared manifest's format."""
    folder = tmp_path_factory.mktemp("bench-data")
    rows = ["id\twav\ttranscript"]
    for rec in speech_recordings[5:7]:
        audio = np.concatenate([np.zeros(8000, np.float32), rec.load(), np.zeros(16000, np.float32)])
        sf.write(folder / f"{rec.id}.wav", audio, 16000)
        rows.append(f"{rec.id}\t{rec.id}.wav\t{rec.text}")
    (folder / "manifest.tsv").write_text("\n".join(rows) + "\n")
    return folder


def bench(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "rtvoice", "bench", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def report(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-out")
    result = bench("--dataset", dataset, "--clock", "virtual", "--json", out / "r.json", "--plot", out / "r.png",
                   "--budget", "caption_final_p95=30s,tts_first_audio_p50=20s,wer=60%")
    assert result.returncode == 0, result.stderr + result.stdout
    return result, json.loads((out / "r.json").read_text()), out


def test_report_has_every_stage_table_json_and_plot(report):
    result, data, out = report
    assert data["schema"] == "rtvoice-bench" and data["schema_version"] == 1 and data["clock"] == "virtual"
    f = data["figures"]
    for stage in ("caption_first_shown", "caption_committed", "caption_final", "tts_first_audio", "dub"):
        for q in ("p50", "p95", "p99", "max"):
            assert f[f"{stage}_{q}_s"] is not None, (stage, q)
    assert f["caption_final_n"] == 2 and f["dub_n"] == 2
    # End to end includes the caption and the voice: never less than either part's median.
    assert f["dub_p50_s"] >= f["caption_final_p50_s"]
    assert 0 <= f["wer"] <= 0.6 and f["dropped_samples"] == 0
    # The offline peer in the same run: the same inputs decoded long-form by the same model (faster-whisper).
    assert 0 <= f["offline_wer"] <= 0.6 and f["offline_rtf"] > 0
    assert f["wer_ratio"] is None if f["offline_wer"] == 0 else f["wer_ratio"] == pytest.approx(
        f["wer"] / f["offline_wer"], abs=0.002)
    assert all(row["offline_text"] for row in data["inputs"] if row["reference"])
    assert "offline long-form, same model" in result.stdout
    assert f["asr_rtf"] > 0 and f["tts_rtf"] > 0 and f["frontend_rtf"] > 0
    assert "end of speech → first dubbed sample" in result.stdout and "budgets:" in result.stdout
    assert (out / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # No --audio-device: no callback ran, the callback figures say so (None, n/a), never 0 ms.
    assert f["callbacks"] == 0 and f["callback_p99_s"] is None and f["callback_max_s"] is None
    assert data["audio_device"] is None and "audio callbacks: n/a" in result.stdout


def test_compute_free_clock_gives_the_policys_own_latency(report, dataset, tmp_path):
    """--clock compute-free: the same decodes, on a clock that counts none of their compute, so no caption comes
    later than on the virtual clock, which counts it (rtvoice.metrics.clock; test_clock.py for the pipeline)."""
    result = bench("--dataset", dataset, "--clock", "compute-free", "--json", tmp_path / "c.json")
    assert result.returncode == 0, result.stderr + result.stdout
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["clock"] == "compute-free" and "compute-free clock" in result.stdout
    free, virtual = data["figures"], report[1]["figures"]
    assert free["wer"] == virtual["wer"] and free["caption_final_n"] == virtual["caption_final_n"]
    for stage in ("caption_committed", "caption_final"):
        assert free[f"{stage}_p50_s"] <= virtual[f"{stage}_p50_s"], stage


def test_budget_that_cannot_be_met_exits_1(dataset):
    result = bench("--dataset", dataset, "--clock", "virtual", "--budget", "caption_final_p95=1ms")
    assert result.returncode == 1
    assert "caption_final_p95" in result.stdout and "EXCEEDED" in result.stdout


def test_compare_and_regression_gate(report, dataset, tmp_path):
    _, data, out = report
    old = json.loads((out / "r.json").read_text())
    old["figures"]["caption_final_p95_s"] = data["figures"]["caption_final_p95_s"] / 3  # "main" was 3x faster
    old_path = tmp_path / "old.json"
    old_path.write_text(json.dumps(old))
    result = bench("--dataset", dataset, "--clock", "virtual", "--compare", old_path, "--max-regression", "50%")
    assert result.returncode == 1, result.stdout
    assert "REGRESSION: caption_final_p95_s" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--budget", "caption_final_p95"], "bad budget"),
    (["--input", "/nonexistent.wav"], "not found"),
    ([], "nothing to benchmark"),
    (["--compare", "/nonexistent.json", "--input", "x.wav"], "not found"),
])
def test_bad_arguments_are_one_line_errors(args, message):
    result = bench(*args, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_bench_translate_to_dubs_the_translation_and_reports_it(dataset, tmp_path):
    result = bench("--dataset", dataset, "--clock", "virtual", "--translate-to", "es", "--json", tmp_path / "t.json",
                   timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "t.json").read_text())
    figures = report["figures"]
    assert report["models"]["translation"].startswith("en→es by apertium")
    assert report["models"]["voice"].startswith("kokoro-82m-es")
    assert figures["translation_n"] == figures["caption_final_n"] >= 2  # every final translated
    assert 0 < figures["translation_ms_p50"] < 1000 and figures["final_to_translation_p50_s"] > 0
    assert figures["dub_n"] == figures["translation_n"] and figures["dub_p50_s"] > 0
    # the translated line is timed on the captions' virtual clock (it was wall time: a dub latency of 1e9 s)
    assert figures["caption_final_p50_s"] < figures["dub_p50_s"] < 60
    assert figures["wer"] < 0.3  # the English captions are scored as before
