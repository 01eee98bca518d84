"""``rtvoice models``: each model this install would load, its package, sha256 status and licence.

    rtvoice models                   one line a model
    rtvoice models --json            the same as JSON (schema rtvoice-models, version 1)
    rtvoice models --manifests DIR   check another set of manifests (for instance before shipping them)

Every file is hashed and compared with the sha256 its manifest pins (models/*.json). Exit status: 0 when
every model is installed and verified, 1 when one is not (each problem on its own line), 2 for a manifest
that cannot be used (unreadable, or a required field such as ``license`` missing).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the models this install would load: package, sha256, licence",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print JSON instead of one line a model")
    p.add_argument("--manifests", type=Path, metavar="DIR", help="a folder of model manifests (default: models/)")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    registry: str  # "pypi" or "npm"
    package: str
    package_version: str  # the version the manifest pins
    installed_version: str | None  # None: the package is not installed, or has no metadata
    installed: bool
    directory: str | None  # where the files are read from
    sha256: str  # "verified", "mismatch", "missing file" or "not installed"
    files: dict[str, str]  # file name -> "verified", "mismatch" or "missing file"
    license: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def model_status(manifest) -> ModelStatus:
    from rtvoice.errors import ModelError
    from rtvoice.models import check_file, installed_version, package_directory

    installed = installed_version(manifest)
    try:
        directory = package_directory(manifest)
    except ModelError as error:
        return ModelStatus(manifest.name, manifest.registry, manifest.package, manifest.package_version, installed,
                           False, None, "not installed", {}, manifest.license, [str(error)])
    checks = {file_name: check_file(manifest.name, directory / file_name, expected)
              for file_name, expected in manifest.files.items()}
    problems = [check.problem for check in checks.values() if check.problem]
    statuses = {check.status for check in checks.values()}
    sha256 = next((s for s in ("mismatch", "missing file") if s in statuses), "verified")
    if installed is not None and installed != manifest.package_version:
        problems.insert(0, f"model {manifest.name!r}: {manifest.package} {installed} is installed, the "
                           f"manifest pins {manifest.package_version}")
    return ModelStatus(manifest.name, manifest.registry, manifest.package, manifest.package_version, installed, True,
                       str(directory), sha256,
                       {name: check.status for name, check in checks.items()}, manifest.license, problems)


def render_line(status: ModelStatus, name_width: int, package_width: int) -> str:
    package = f"{'npm:' if status.registry == 'npm' else ''}{status.package} {status.package_version}"
    if not status.installed:
        state = "missing"
    elif status.installed_version in (None, status.package_version):
        state = "installed"
    else:
        state = f"installed {status.installed_version}"
    return (f"{status.name:<{name_width}}  {package:<{package_width}}  {state:<9}  "
            f"sha256 {status.sha256:<13}  {status.license}")


def run(args: argparse.Namespace) -> int:
    from rtvoice.errors import ModelError
    from rtvoice.models import manifest_dir, manifest_paths, read_manifest

    directory = args.manifests or manifest_dir()
    paths = manifest_paths(directory)
    if not paths:
        raise ModelError(f"no model manifests (*.json) in {directory}")
    statuses = [model_status(read_manifest(path)) for path in paths]
    if args.json:
        report = {"schema": "rtvoice-models", "version": 1, "manifests": str(directory),
                  "models": [{**vars(s), "ok": s.ok} for s in statuses]}
        print(json.dumps(report, indent=2))
    else:
        name_width = max(len(s.name) for s in statuses)
        package_width = max(len(f"npm:{s.package} {s.package_version}") for s in statuses)
        for status in statuses:
            print(render_line(status, name_width, package_width))
    for status in statuses:
        for problem in status.problems:
            print(f"rtvoice: models: {problem}", file=sys.stderr)
    return 0 if all(s.ok for s in statuses) else 1
