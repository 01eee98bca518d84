"""``rtvoice models`` on the real packaged models and on tampered copies of one.

The sha256 reference is hashlib run here on the files the command names, against the manifests' JSON.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VOICE_MANIFEST = REPO / "models" / "piper-en_US-joe-medium.json"
VOICE_CONFIG = "en_US-joe-medium.onnx.json"


def rtvoice_models(*args, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (extra_path, REPO) if p))
    return subprocess.run([sys.executable, "-m", "rtvoice", "models", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_lists_every_packaged_model_verified_with_its_licence():
    result = rtvoice_models("--json")
    assert result.returncode == 0, result.stderr
    report = {m["name"]: m for m in json.loads(result.stdout)["models"]}
    manifests = [json.loads(p.read_text()) for p in sorted((REPO / "models").glob("*.json"))]
    assert sorted(report) == sorted(m["name"] for m in manifests)
    for manifest in manifests:
        entry = report[manifest["name"]]
        assert (entry["package"], entry["package_version"], entry["license"]) == (
            manifest["package"], manifest["package_version"], manifest["license"])
        assert entry["installed"] and entry["installed_version"] == manifest["package_version"]
        assert entry["sha256"] == "verified" and entry["problems"] == []
        for file_name, expected in manifest["files"].items():
            assert hashlib.sha256((Path(entry["directory"]) / file_name).read_bytes()).hexdigest() == expected

    lines = rtvoice_models().stdout.splitlines()
    assert len(lines) == len(manifests)
    for manifest, line in zip(manifests, lines):
        assert line.startswith(manifest["name"] + " ")
        assert f"{manifest['package']} {manifest['package_version']}" in line
        assert "installed" in line and "sha256 verified" in line and line.endswith(manifest["license"])


def installed_voice_directory() -> Path:
    """Where `rtvoice models` finds the real voice (chosen by name: other manifests may sort before it)."""
    name = json.loads(VOICE_MANIFEST.read_text())["name"]
    listed = json.loads(rtvoice_models("--json").stdout)["models"]
    return Path(next(m["directory"] for m in listed if m["name"] == name))


@pytest.fixture
def tampered(tmp_path):
    """A copy of the real voice's package with its config edited, and manifests pointing at it."""
    real = json.loads(VOICE_MANIFEST.read_text())
    real_dir = installed_voice_directory()
    package = tmp_path / "site" / "rtvoice_tampered_voice"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    config = (real_dir / VOICE_CONFIG).read_text()
    (package / "data" / VOICE_CONFIG).write_text(config.replace('"sample_rate": 22050', '"sample_rate": 22051', 1))
    assert (package / "data" / VOICE_CONFIG).read_text() != config

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    copy = {**real, "module": "rtvoice_tampered_voice"}
    edited = {**copy, "name": "a-edited", "files": {VOICE_CONFIG: real["files"][VOICE_CONFIG]}}
    voice = "en_US-joe-medium.onnx"  # not copied
    incomplete = {**copy, "name": "b-incomplete", "files": {voice: real["files"][voice]}}
    absent = {**real, "name": "c-absent", "package": "rtvoice-no-such-package", "module": "rtvoice_no_such_package"}
    for manifest in (edited, incomplete, absent):
        (manifests / f"{manifest['name']}.json").write_text(json.dumps(manifest))
    return tmp_path / "site", manifests


def test_a_modified_file_a_missing_file_and_a_missing_package_are_each_reported(tampered):
    site, manifests = tampered
    result = rtvoice_models("--manifests", str(manifests), extra_path=site)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["a-edited", "b-incomplete", "c-absent"]
    assert "sha256 mismatch" in lines[0] and "sha256 missing file" in lines[1]
    assert "missing" in lines[2] and "sha256 not installed" in lines[2]
    errors = result.stderr.splitlines()
    assert len(errors) == 3 and all(e.startswith("rtvoice: models: model ") for e in errors)
    assert f"{VOICE_CONFIG} has sha256 " in errors[0] and "the manifest expects" in errors[0]
    assert "missing file" in errors[1] and errors[1].endswith("en_US-joe-medium.onnx")
    assert "pip install rtvoice-no-such-package==1.0.0" in errors[2]

    report = json.loads(rtvoice_models("--json", "--manifests", str(manifests), extra_path=site).stdout)
    edited, incomplete, absent = report["models"]
    assert edited["files"] == {VOICE_CONFIG: "mismatch"} and not edited["ok"]
    assert incomplete["files"] == {"en_US-joe-medium.onnx": "missing file"} and not incomplete["ok"]
    assert absent["installed"] is False and absent["directory"] is None


def test_an_intact_copy_verifies(tampered, tmp_path):
    site, _ = tampered
    real_dir = installed_voice_directory()
    shutil.copyfile(real_dir / VOICE_CONFIG, site / "rtvoice_tampered_voice" / "data" / VOICE_CONFIG)
    manifests = tmp_path / "intact"
    manifests.mkdir()
    real = json.loads(VOICE_MANIFEST.read_text())
    copy = {**real, "module": "rtvoice_tampered_voice", "files": {VOICE_CONFIG: real["files"][VOICE_CONFIG]}}
    (manifests / "copy.json").write_text(json.dumps(copy))

    result = rtvoice_models("--manifests", str(manifests), extra_path=site)

    assert result.returncode == 0, result.stderr
    assert "sha256 verified" in result.stdout and result.stderr == ""


def test_a_manifest_without_licence_is_a_one_line_error(tmp_path):
    data = json.loads(VOICE_MANIFEST.read_text())
    del data["license"]
    (tmp_path / "voice.json").write_text(json.dumps(data))

    result = rtvoice_models("--manifests", str(tmp_path))

    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"rtvoice: error: model manifest {tmp_path / 'voice.json'}: missing or empty field(s): license"]
