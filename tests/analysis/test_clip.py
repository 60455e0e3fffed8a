"""The optional CLIP analyser, with a tiny CLIP-shaped model built here in Immich's layout.

The tiny model sees colour: its image embedding is the photo's mean
normalised colour through a fixed 3 x 8 matrix, and its text embedding the
mean of per-token vectors in which "red", "green" and "blue" point where
photos of that colour do. So "red" must find the red photo, and a good/bad
prompt pair of "red"/"blue" must score red photos high and blue ones low.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photocull.analysis.clip import CLIP, ClipFeatures, prompt_score
from photocull.catalog.store import Catalog
from photocull.config import IngestSettings, ScanSettings, Settings
from photocull.errors import ModelUnavailable
from photocull.ingest.decode import decode
from photocull.models.clip_hub import clip_files, clip_status, encode_text
from photocull.models.runtime import InferenceRuntime
from photocull.pipeline.scan import scan
from photocull.search import score_prompts, search_text
from photocull.vectors import from_bytes as vector_from_bytes, to_bytes as vector_to_bytes
from tests.helpers import run_cli

SIZE = 32  # the tiny model's input size (ViT-B-32: 224)
CONTEXT = 8  # its context length (CLIP: 77)
DIM = 8  # its embedding size (ViT-B-32: 512)
MIX = np.random.default_rng(0).normal(size=(3, DIM)).astype(np.float32)
# Normalised mean colour (mean = std = 0.5, so full channel -> 1, empty -> -1) of pure colours.
COLOURS = {"red": (1, -1, -1), "green": (-1, 1, -1), "blue": (-1, -1, 1)}
VOCAB = ["<pad>", "<unk>", "<start>", "<end>", "red", "green", "blue", "a", "photo", "of"]


def _build_model(folder: Path, batch: int | str = "batch") -> Path:
    """A CLIP-shaped model folder in Immich's layout (see photocull.models.clip_hub)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    (folder / "visual").mkdir(parents=True)
    (folder / "textual").mkdir()
    visual = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["mean", "mix"], ["embedding"])],
        "visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, DIM])],
        [numpy_helper.from_array(MIX, "mix")],
    )
    table = np.zeros((len(VOCAB), DIM), np.float32)
    for word, colour in COLOURS.items():
        table[VOCAB.index(word)] = np.array(colour, np.float32) @ MIX
    textual = helper.make_graph(
        [helper.make_node("Gather", ["table", "text"], ["tokens"]),
         helper.make_node("ReduceMean", ["tokens"], ["embedding"], axes=[1], keepdims=0)],
        "textual",
        [helper.make_tensor_value_info("text", TensorProto.INT32, ["batch", CONTEXT])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])],
        [numpy_helper.from_array(table, "table")],
    )
    for graph, path in ((visual, "visual/model.onnx"), (textual, "textual/model.onnx")):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(model)
        onnx.save(model, folder / path)

    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<start> $A <end>", special_tokens=[("<start>", 2), ("<end>", 3)])
    tokenizer.save(str(folder / "textual/tokenizer.json"))
    (folder / "textual/tokenizer_config.json").write_text(json.dumps({"pad_token": "<pad>"}))
    (folder / "visual/preprocess_cfg.json").write_text(json.dumps({
        "size": [SIZE, SIZE], "mode": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3,
        "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0}))
    (folder / "config.json").write_text(json.dumps({
        "embed_dim": DIM, "vision_cfg": {"image_size": SIZE}, "text_cfg": {"context_length": CONTEXT}}))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return _build_model(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture
def settings(model) -> Settings:
    return Settings(clip={"repository": str(model), "good_prompt": "red", "bad_prompt": "blue"},
                    models={"auto_fetch": False})


def _png(colour: str, width: int = 120, height: int = 90) -> bytes:
    """A photo of mostly one colour: that channel rises 150 -> 255 across, the others stay low."""
    ramp = np.linspace(150, 255, width)[None, :].repeat(height, 0)
    pixels = np.full((height, width, 3), 20.0)
    pixels[..., list(COLOURS).index(colour)] = ramp
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for colour in COLOURS:
        (folder / f"{colour}.png").write_bytes(_png(colour))
    return folder


def _features(photos: Path, settings: Settings) -> dict[str, ClipFeatures]:
    names = sorted(COLOURS)
    inputs = np.stack([CLIP.prepare(decode((photos / f"{n}.png").read_bytes(), f"{n}.png", IngestSettings()),
                                    settings) for n in names])
    return dict(zip(names, CLIP.infer(inputs, InferenceRuntime(settings), settings)))


# -- preprocessing and inference ------------------------------------------------

def test_prepare_makes_a_normalised_centre_square(settings):
    # Blue | red | green thirds: the centred square of a 3:1 photo is the red third.
    pixels = np.zeros((60, 180, 3), np.uint8)
    pixels[:, :60, 2] = pixels[:, 60:120, 0] = pixels[:, 120:, 1] = 255
    photo = decode(_encode(pixels), "thirds.png", IngestSettings())
    prepared = CLIP.prepare(photo, settings)
    assert prepared.shape == (3, SIZE, SIZE) and prepared.dtype == np.float32
    means = prepared.mean(axis=(1, 2))
    assert means[0] > 0.9 and means[1] < -0.9 and means[2] < -0.9  # (255 / 255 - 0.5) / 0.5 = 1


def test_prepare_squashes_when_the_model_says_so(tmp_path):
    folder = _build_model(tmp_path / "squash")
    cfg = json.loads((folder / "visual/preprocess_cfg.json").read_text())
    (folder / "visual/preprocess_cfg.json").write_text(json.dumps({**cfg, "resize_mode": "squash"}))
    pixels = np.zeros((60, 180, 3), np.uint8)
    pixels[:, :60, 2] = pixels[:, 60:120, 0] = pixels[:, 120:, 1] = 255
    photo = decode(_encode(pixels), "thirds.png", IngestSettings())
    means = CLIP.prepare(photo, Settings(clip={"repository": str(folder)})).mean(axis=(1, 2))
    assert np.allclose(means, -1 / 3, atol=0.05)  # each channel full on a third: 1/3 - 2/3


def test_infer_gives_unit_vectors_that_see_colour(photos, settings):
    features = _features(photos, settings)
    for colour, record in features.items():
        vector = vector_from_bytes(record.clip_vector)
        assert vector.shape == (DIM,)
        assert abs(np.linalg.norm(vector) - 1) < 2e-3  # float16 storage
        direction = np.array(COLOURS[colour], np.float32) @ MIX
        assert vector @ direction / np.linalg.norm(direction) > 0.9


def test_fixed_batch_exports_run_one_photo_at_a_time(tmp_path, photos, settings):
    fixed = _build_model(tmp_path / "fixed", batch=1)  # Immich's newer exports are traced with batch 1
    reference = _features(photos, settings)
    features = _features(photos, Settings(clip={**settings.clip.model_dump(), "repository": str(fixed)}))
    for colour in COLOURS:
        assert features[colour].clip_vector == reference[colour].clip_vector


def test_vectors_round_trip_as_float16():
    vector = np.array([0.6, -0.8, 0.0], np.float32)
    blob = vector_to_bytes(vector)
    assert len(blob) == 6 and np.allclose(vector_from_bytes(blob), vector, atol=1e-3)
    assert blob == vector.astype("<f2").tobytes()


# -- text, aesthetic, search --------------------------------------------------------

def test_text_is_padded_to_the_context_and_normalised(settings):
    runtime = InferenceRuntime(settings)
    texts = ["Red", "a photo of blue", "green " * 20]  # the last is truncated to 8 tokens
    embedded = encode_text(texts, runtime, settings)
    assert embedded.shape == (3, DIM) and embedded.dtype == np.float32
    assert np.allclose(np.linalg.norm(embedded, axis=1), 1, atol=1e-5)
    for row, colour in zip(embedded, ("red", "blue", "green")):
        direction = np.array(COLOURS[colour], np.float32) @ MIX
        assert row @ direction / np.linalg.norm(direction) > 0.999


def test_zero_shot_aesthetic_follows_the_prompts(photos, settings):
    features = _features(photos, settings)  # good_prompt "red", bad_prompt "blue"
    scores = {c: f.clip_aesthetic for c, f in features.items()}
    assert all(0 <= s <= 10 for s in scores.values())
    assert scores["red"] > 5 > scores["blue"]
    # the same as 10 x softmax(100 x cosines), computed directly
    prompts = encode_text(["red", "blue"], InferenceRuntime(settings), settings)
    for colour, record in features.items():
        assert record.clip_aesthetic == pytest.approx(_softmax_score(record.clip_vector, prompts), abs=0.05)


def _softmax_score(vector: bytes | np.ndarray, prompts: np.ndarray) -> float:
    """10 x softmax(100 x [cos(image, good), cos(image, bad)])[0], written out."""
    image = vector_from_bytes(vector) if isinstance(vector, bytes) else vector
    logits = 100 * (prompts.astype(np.float64) @ image)
    weights = np.exp(logits - logits.max())
    return float(10 * weights[0] / weights.sum())


def test_prompt_score_is_clips_softmax_over_the_pair():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(50, 16))
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    prompts = images[:2] + rng.normal(scale=5.0, size=(2, 16))  # gaps of a few hundredths, as with real CLIP
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    scores = prompt_score(images, prompts[0], prompts[1])
    expected = [_softmax_score(image, prompts) for image in images]
    assert np.allclose(scores, expected, atol=1e-4)
    assert np.ptp(scores) > 1  # not all saturated: the comparison above means something


def test_prompt_score_is_five_without_a_gap_and_never_overflows():
    image = np.array([[1.0, 0.0]], np.float32)
    assert prompt_score(image, np.array([0.6, 0.8]), np.array([0.6, -0.8]))[0] == pytest.approx(5)
    with np.errstate(all="raise"):
        assert prompt_score(image, np.array([1.0, 0.0]), np.array([-1.0, 0.0]))[0] == pytest.approx(10)
        assert prompt_score(image, np.array([-1.0, 0.0]), np.array([1.0, 0.0]))[0] == pytest.approx(0)


@pytest.fixture
def scanned(tmp_path, photos, settings) -> Catalog:
    """A real catalog with the colour photos scanned by the CLIP analyser alone."""
    catalog = Catalog(tmp_path / "catalog.db")
    scan([photos], catalog, settings.model_copy(update={"scan": ScanSettings(analysers=("clip",))}))
    yield catalog
    catalog.close()


def test_text_search_and_prompt_pairs_rank_stored_vectors(photos, settings, scanned):
    path = {colour: str(photos / f"{colour}.png") for colour in COLOURS}
    for colour in COLOURS:
        found = search_text(scanned, f"a photo of {colour}", settings, limit=2)
        assert len(found) == 2 and found[0][0] == path[colour]
        assert found[0][1] > found[1][1]
    ranked = score_prompts(scanned, "green", "red", settings, limit=3)
    assert [p for p, _ in ranked][0::2] == [path["green"], path["red"]]
    assert ranked[0][1] > 5 > ranked[2][1]


def test_search_ignores_vectors_of_another_model(tmp_path, model, settings, scanned):
    other = tmp_path / "other-model"
    shutil.copytree(model, other)
    elsewhere = settings.model_copy(update={"clip": settings.clip.model_copy(update={"repository": str(other)})})
    assert search_text(scanned, "red", elsewhere) == []  # their space is not this model's
    assert len(search_text(scanned, "red", settings)) == len(COLOURS)


def test_search_of_an_empty_catalog_finds_nothing(tmp_path, settings):
    with Catalog(tmp_path / "empty.db") as empty:
        assert search_text(empty, "red", settings) == []
        assert score_prompts(empty, "red", "blue", settings, limit=5) == []


# -- where the weights come from --------------------------------------------------

@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache, offline (huggingface_hub reads both at import, so patch it too)."""
    import huggingface_hub.constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return cache


def test_a_local_folder_is_ready(model, settings):
    assert clip_status(settings)[0] == "ready"
    assert clip_files(settings).visual == model / "visual/model.onnx"
    CLIP.ensure(settings)


def test_a_folder_missing_a_file_says_which(tmp_path, model):
    folder = tmp_path / "partial"
    shutil.copytree(model, folder)
    (folder / "textual/tokenizer.json").unlink()
    state, detail = clip_status(Settings(clip={"repository": str(folder)}))
    assert state == "missing" and "textual/tokenizer.json" in detail


def test_uncached_repository_is_missing_with_the_fix(hf_cache):
    settings = Settings(clip={"repository": "acme/not-downloaded"}, models={"auto_fetch": False})
    state, detail = clip_status(settings)
    assert state == "missing"
    assert "acme/not-downloaded" in detail and "photocull models fetch clip" in detail
    with pytest.raises(ModelUnavailable, match="photocull models fetch clip"):
        CLIP.ensure(settings)


def test_auto_fetch_without_network_still_names_the_fix(hf_cache):
    settings = Settings(clip={"repository": "acme/not-downloaded"}, models={"auto_fetch": True})
    with pytest.raises(ModelUnavailable, match="photocull models fetch clip") as raised:
        CLIP.ensure(settings)
    assert "huggingface.co" in str(raised.value)


def test_a_cached_hub_snapshot_is_found_offline(hf_cache, model):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_cache / "models--acme--tiny-clip"
    shutil.copytree(model, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for revision in (None, commit):
        settings = Settings(clip={"repository": "acme/tiny-clip", "revision": revision})
        assert clip_status(settings)[0] == "ready"
        assert clip_files(settings).textual == repo / "snapshots" / commit / "textual/model.onnx"
    (repo / "snapshots" / commit / "visual/model.onnx").unlink()  # an interrupted download
    state, detail = clip_status(Settings(clip={"repository": "acme/tiny-clip"}))
    assert state == "missing" and "visual/model.onnx" in detail


def test_without_the_extra_it_says_what_to_install(monkeypatch, settings):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # as if not installed
    state, detail = clip_status(settings)
    assert state == "not installed" and 'pip install "photocull[clip]"' in detail


def test_identity_names_weights_and_prompts_without_reading_files(tmp_path):
    settings = Settings(clip={"repository": str(tmp_path / "nowhere"), "revision": "v1"})
    identity = CLIP.identity(settings)  # no files needed
    assert identity[0].endswith("nowhere@v1") and "a good photo." in identity
    other = Settings(clip={**settings.clip.model_dump(), "bad_prompt": "a dull photo."})
    assert CLIP.stamp(other) != CLIP.stamp(settings)


# -- through a real scan ----------------------------------------------------------

def test_scan_stores_vectors_that_search_finds(tmp_path, photos, model):
    settings = Settings(scan={"analysers": ("technical", "clip"), "workers": 1},
                        clip={"repository": str(model), "good_prompt": "red", "bad_prompt": "blue"},
                        models={"auto_fetch": False})
    with Catalog(tmp_path / "catalog.db") as catalog:
        report = scan([photos], catalog, settings)
        assert report.analysed == 3 and report.unreadable == 0
        found = search_text(catalog, "red", settings, limit=3)
        assert [Path(p).name for p, _ in found][0] == "red.png"
        red, blue = (catalog.photo(photos / f"{c}.png") for c in ("red", "blue"))
        assert red["clip_aesthetic"] > 5 > blue["clip_aesthetic"]
        assert [Path(p).name for p, _ in score_prompts(catalog, "blue", "red", settings, limit=3)][0] == "blue.png"


def test_search_command(tmp_path, photos, model):
    folder = tmp_path / "photos"
    shutil.copytree(photos, folder)
    env = {"PHOTOCULL_CLIP__REPOSITORY": str(model), "PHOTOCULL_MODELS__AUTO_FETCH": "false"}
    run_cli("scan", folder, "--analyzers", "technical,clip", "--quiet", env=env)
    found = json.loads(run_cli("search", "a photo of blue", folder, "--json", env=env).stdout)
    assert [Path(r["path"]).name for r in found][0] == "blue.png" and "similarity" in found[0]
    table = run_cli("search", "--good", "green", "--bad", "red", folder, "-n", "1", env=env).stdout
    assert "green.png" in table and "red.png" not in table
    assert run_cli("search", "--good", "green", folder, check=False, env=env).returncode == 1
    unscanned = tmp_path / "elsewhere"
    unscanned.mkdir()
    result = run_cli("search", "red", unscanned, check=False, env=env)
    assert result.returncode == 1 and "no catalog" in result.stderr


def _encode(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()
