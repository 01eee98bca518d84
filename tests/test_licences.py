"""LICENSE, pyproject.toml and NOTICE.md agree with what rtvoice runs and loads.

The references are independent of the generator: Debian's copy of the GPL, the installed metadata read
directly, and the manifests' JSON read directly.
"""

import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from rtvoice.errors import ModelError
from rtvoice.models import manifest_paths, read_manifest

REPO = Path(__file__).resolve().parents[1]
DEBIAN_GPL3 = Path("/usr/share/common-licenses/GPL-3")
# Terms a GPL-3.0-or-later work cannot carry in-process, or that a broadcaster cannot ship at all.
INCOMPATIBLE = re.compile(r"GPL-2\.0-only|GPLv2 only|non-?commercial|CC-BY-NC|proprietary|all rights reserved",
                          re.IGNORECASE)


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_notice", REPO / "scripts" / "generate_notice.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is being run
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return load_generator()


@pytest.fixture(scope="module")
def dependencies(generator):
    found, missing = generator.runtime_dependencies()
    assert not missing, f"runtime requirements not installed: {missing}"
    return found


def test_license_file_is_the_gpl3_and_pyproject_says_so():
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE") and "Version 3, 29 June 2007" in text[:200]
    if DEBIAN_GPL3.is_file():
        assert text == DEBIAN_GPL3.read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "GPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE", "NOTICE.md"]


def test_the_gpl_part_that_runs_in_process_is_why_rtvoice_is_gpl3(dependencies):
    """piper-tts (with espeak-ng compiled into piper/espeakbridge.so) is imported in rtvoice's process."""
    piper = importlib.metadata.metadata("piper-tts")
    assert "GPL-3.0" in (piper.get("License-Expression") or piper.get("License") or "")
    assert any(d.name == "piper-tts" for d in dependencies)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"].startswith("GPL-3.0")


def test_the_gpl_library_the_native_core_links_allows_version_3(generator):
    libraries = generator.native_libraries()
    if libraries is None:
        pytest.skip("rtvoice/_core is not built")
    fftw = [lib for lib in libraries if lib.soname.startswith("libfftw3f")]
    assert len(fftw) == 1 and re.fullmatch(r"GPL-2\+|GPL-2\.0-or-later", fftw[0].package.licence)


def test_makefile_packages_follow_continued_and_appended_lines(generator, tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text("APT_PACKAGES := cmake \\\n\tpkg-config\nOTHER := bash\nAPT_PACKAGES += rtvoice-no-such-deb\n")

    packages = {p.name: p for p in generator.makefile_packages(makefile)}

    assert sorted(packages) == ["cmake", "pkg-config", "rtvoice-no-such-deb"]
    assert packages["cmake"].version and packages["rtvoice-no-such-deb"].version == ""


def test_every_runtime_dependency_declares_a_licence(generator, dependencies):
    names = {d.name.lower() for d in dependencies}
    # the closure, not only the direct requirements: onnxruntime requires protobuf, soundfile requires cffi
    assert {"numpy", "onnxruntime", "piper-tts", "protobuf", "cffi", "silero-vad"} <= names
    assert "torch" not in names  # silero-vad is installed --no-deps: what it requires is not followed
    assert generator.problems(dependencies, []) == []
    for d in dependencies:
        assert d.licence, f"{d.name} declares no licence"


def test_no_runtime_part_declares_terms_gpl3_cannot_carry(dependencies):
    offenders = [f"{d.name}: {d.licence}" for d in dependencies if INCOMPATIBLE.search(d.licence or "")]
    models = [read_manifest(p) for p in manifest_paths()]
    offenders += [f"{m.name}: {m.license}" for m in models if INCOMPATIBLE.search(m.license)]
    assert not offenders


def test_a_dependency_without_licence_metadata_is_reported(generator, tmp_path, monkeypatch):
    dist_info = tmp_path / "site" / "rtvoice_unlicensed_probe-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rtvoice-unlicensed-probe\nVersion: 1.0\n"
        'Requires-Dist: soxr; extra == "audio"\nRequires-Dist: tqdm; extra == "never"\n')
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    runtime = tmp_path / "runtime.txt"
    runtime.write_text("rtvoice-unlicensed-probe[audio]==1.0\n")
    nodeps = tmp_path / "nodeps.txt"
    nodeps.write_text("# nothing\n")

    found, missing = generator.runtime_dependencies(runtime, nodeps)

    # soxr through the extra asked for, and numpy through soxr; not tqdm, behind an extra nobody asked for
    assert [d.name for d in found] == ["numpy", "rtvoice-unlicensed-probe", "soxr"] and missing == []
    assert generator.problems(found, missing) == [
        "rtvoice-unlicensed-probe 1.0 declares no licence (License-Expression, License, classifiers)"]

    # unless it is a weights package: then the licence its model manifest records is used
    manifest = {**json.loads((REPO / "models" / "silero-vad-16k.json").read_text()),
                "name": "split-model", "packages": [{"package": "rtvoice_unlicensed_probe", "version": "1.0"}]}
    (tmp_path / "split-model.json").write_text(json.dumps(manifest))
    filled = generator.with_model_licences(found, generator.default_models(tmp_path))
    probe = next(d for d in filled if d.name == "rtvoice-unlicensed-probe")
    assert (probe.licence, probe.declared_in) == ("MIT", "model manifest split-model")
    assert generator.problems(filled, missing) == []


def test_every_model_manifest_has_a_licence():
    paths = manifest_paths()
    assert len(paths) >= 3
    for path in paths:
        data = json.loads(path.read_text())
        assert isinstance(data.get("license"), str) and data["license"].strip(), path.name
        assert read_manifest(path).license == data["license"]


def test_a_manifest_without_licence_is_refused(generator, tmp_path):
    data = json.loads((REPO / "models" / "silero-vad-16k.json").read_text())
    del data["license"]
    (tmp_path / "unlicensed.json").write_text(json.dumps(data))

    with pytest.raises(ModelError, match=r"unlicensed\.json: missing or empty field\(s\): license"):
        generator.default_models(tmp_path)


def test_a_drop_in_distribution_satisfies_a_requirement(generator, tmp_path, monkeypatch):
    """As onnxruntime-gpu stands for the onnxruntime that piper-tts requires after `make GPU=1`."""
    dist_info = tmp_path / "rtvoice_probe_gpu-2.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rtvoice-probe-gpu\nVersion: 2.0\nLicense: MIT\n")
    (dist_info / "top_level.txt").write_text("rtvoice_probe\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    assert generator.installed_distribution("rtvoice-probe").metadata["Name"] == "rtvoice-probe-gpu"
    assert generator.installed_distribution("rtvoice-probe-absent") is None


def distribution_installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def pinned_requirements(generator) -> dict[str, str]:
    """canonical name -> version of the `name==version` lines of the runtime requirement files (what a fresh
    machine installs exactly; transitive packages and Debian packages may come in newer versions there)."""
    pins = {}
    for path in (generator.RUNTIME_REQUIREMENTS, generator.NODEPS_REQUIREMENTS):
        for requirement in generator.requirements_in(path):
            exact = [s.version for s in requirement.specifier if s.operator == "=="]
            if exact:
                pins[canonicalize_name(requirement.name)] = exact[0]
    return pins


@pytest.mark.skipif(distribution_installed("onnxruntime-gpu"),
                    reason="NOTICE.md describes the CPU set-up (`make`); `make GPU=1` swaps in onnxruntime-gpu")
def test_committed_notice_names_every_runtime_part(generator, dependencies):
    """Every runtime package with its licence (and its version where requirements pin it), every model
    with its sha256s, every Debian package the Makefile installs. Not a byte comparison: on another
    machine an unpinned transitive package or a Debian security update has another version, and the
    notice is still right about what is shipped (`generate_notice.py --check` is the strict check)."""
    notice = (REPO / "NOTICE.md").read_text()
    pins = pinned_requirements(generator)
    for d in generator.with_model_licences(dependencies, generator.default_models()):
        version = pins.get(canonicalize_name(d.name))
        row = f"| {d.name} | {version} | {d.licence} |" if version else f"| {d.name} |"
        assert row in notice, f"NOTICE.md lacks {row!r}: run scripts/generate_notice.py and commit NOTICE.md"
        assert d.licence and re.search(rf"\| {re.escape(d.name)} \| [^|]+ \| {re.escape(d.licence)} \|", notice)
    for path in manifest_paths():
        manifest = json.loads(path.read_text())
        assert f"| {manifest['name']} | {manifest['package']} | {manifest['package_version']} |" in notice
        for sha in manifest["files"].values():
            assert sha in notice
    for package in generator.makefile_packages(REPO / "Makefile"):
        assert f"| {package.name} |" in notice, f"NOTICE.md lacks the Debian package {package.name}"


def test_a_stale_notice_fails_the_check(tmp_path):
    stale = tmp_path / "NOTICE.md"
    stale.write_text((REPO / "NOTICE.md").read_text().replace("| numpy |", "| numpy (edited) |"))
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "generate_notice.py"), "--check",
                             "--output", str(stale)], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("is stale; run `python scripts/generate_notice.py` and commit it")
    assert "-| numpy (edited) |" in result.stdout
