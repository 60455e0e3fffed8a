"""Our own converters against reference implementations, and the safety of the torch file reader.

The expectations (``expectations/reference_outputs.json``) come from Keras and
from the ``efficientnet_lite_pytorch`` package, run by
``bench/make_reference_expectations.py`` on inputs made from corpus photos by
:func:`reference_input`; here only the ONNX models converted from the real
weights files run, so neither library is needed. The inputs are rebuilt from
the corpus (its photos are never copied into the repository) and must match
the SHA-256 recorded with the outputs, so a changed decoder or resize shows
up as such rather than as a conversion error.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from photocull.models import efficientnet_lite, nima
from photocull.models.preprocess import model_input
from photocull.models.torch_state import UnsafeTorchFile, load_state_dict

EXPECTATIONS = Path(__file__).parent / "expectations"
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((EXPECTATIONS / "reference_outputs.json").read_text(encoding="utf-8"))


def reference_input(corpus: Path, member: str, blur: float) -> np.ndarray:
    """The network input for a corpus photo, optionally Gaussian-blurred (sigma = blur x long edge)."""
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(corpus / member), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if blur:
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigmaX=blur * max(rgb.shape[:2]))
    return model_input(rgb)


@pytest.fixture(scope="module")
def inputs(reference: dict, corpus: Path) -> dict[str, np.ndarray]:
    made = {}
    for name, output in reference["outputs"].items():
        made[name] = reference_input(corpus, output["member"], output["blur"])
        digest = hashlib.sha256(made[name].tobytes()).hexdigest()
        assert digest == output["input_sha256"], (
            f"{name}: the input made from {output['member']} differs from the one the reference saw "
            "(a different OpenCV or JPEG decoder?); rerun bench/make_reference_expectations.py")
    return made


@pytest.fixture(scope="module")
def sessions(model_sources: dict[str, Path], tmp_path_factory) -> dict:
    import onnxruntime as ort

    folder = tmp_path_factory.mktemp("converted")
    nima.convert(model_sources["nima"], folder / "nima.onnx")
    efficientnet_lite.convert(model_sources["efficientnet-lite0"], folder / "efficientnet-lite0.onnx")
    return {name: ort.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])
            for name in ("nima", "efficientnet-lite0")}


def _batch(inputs: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack(list(inputs.values()))


def test_nima_matches_keras_reference(sessions, inputs, reference) -> None:
    (scores,) = sessions["nima"].run(["scores"], {"image": _batch(inputs)})
    means, stds = nima.nima_mean_std(scores)
    for i, name in enumerate(inputs):
        expected = reference["outputs"][name]["nima"]
        np.testing.assert_allclose(scores[i], expected["probabilities"], rtol=0, atol=TOLERANCE, err_msg=name)
        assert means[i] == pytest.approx(expected["mean"], abs=TOLERANCE), name
        assert stds[i] == pytest.approx(expected["std"], abs=TOLERANCE), name


def test_efficientnet_matches_pytorch_reference(sessions, inputs, reference) -> None:
    embeddings, probabilities = sessions["efficientnet-lite0"].run(["embedding", "probabilities"],
                                                                   {"image": _batch(inputs)})
    for i, name in enumerate(inputs):
        expected = reference["outputs"][name]["efficientnet"]
        np.testing.assert_allclose(embeddings[i], expected["embedding"], rtol=0, atol=TOLERANCE, err_msg=name)
        np.testing.assert_allclose(embeddings[i, :16], expected["embedding_first16"], rtol=0, atol=TOLERANCE)
        assert np.linalg.norm(embeddings[i]) == pytest.approx(expected["embedding_norm"], rel=1e-4), name
        top5 = np.argsort(-probabilities[i])[:5].tolist()
        # Same five classes, same winner; neighbours closer than the tolerance may trade places.
        assert set(top5) == set(expected["top5"]) and top5[0] == expected["top5"][0], name
        np.testing.assert_allclose(probabilities[i, expected["top5"]], expected["top5_probabilities"],
                                   rtol=0, atol=TOLERANCE, err_msg=name)
        assert probabilities[i].sum() == pytest.approx(1.0, abs=1e-5)


def test_outputs_make_sense(sessions, inputs) -> None:
    """A sharp photo scores a typical 5-5.6 and its blurred copy clearly less; a baboon is a baboon."""
    batch = np.stack([inputs["baboon"], inputs["baboon_blurred"]])
    means, _ = nima.nima_mean_std(sessions["nima"].run(["scores"], {"image": batch})[0])
    assert 5.0 <= means[0] <= 5.6 and means[1] < means[0] - 0.5
    (probabilities,) = sessions["efficientnet-lite0"].run(["probabilities"], {"image": batch[:1]})
    assert efficientnet_lite.imagenet_labels()[int(probabilities[0].argmax())] == "baboon"


@pytest.mark.parametrize(("model", "outputs"), [
    ("nima", {"scores": 10}),
    ("efficientnet-lite0", {"embedding": 1280, "probabilities": 1000}),
])
def test_onnx_interface_and_dynamic_batch(sessions, inputs, model: str, outputs: dict[str, int]) -> None:
    session = sessions[model]
    (image,) = session.get_inputs()
    assert (image.name, image.type, image.shape[1:]) == ("image", "tensor(uint8)", [224, 224, 3])
    assert isinstance(image.shape[0], str)  # symbolic batch
    assert {o.name: (o.type, o.shape[1]) for o in session.get_outputs()} == {
        name: ("tensor(float)", width) for name, width in outputs.items()}
    batch = _batch(inputs)[:3]
    whole = session.run(list(outputs), {"image": batch})
    for i in range(3):
        single = session.run(list(outputs), {"image": batch[i:i + 1]})
        for together, alone in zip(whole, single):
            assert together.dtype == np.float32 and alone.shape == (1, together.shape[1])
            np.testing.assert_allclose(together[i], alone[0], rtol=0, atol=1e-5)


def test_nima_mean_std() -> None:
    certain_five = np.eye(10)[4]
    split = np.zeros(10)
    split[[0, 9]] = 0.5  # half 1s, half 10s
    means, stds = nima.nima_mean_std(np.stack([certain_five, split]))
    np.testing.assert_allclose(means, [5.0, 5.5])
    np.testing.assert_allclose(stds, [0.0, 4.5])


def test_imagenet_labels() -> None:
    labels = efficientnet_lite.imagenet_labels()
    assert len(labels) == 1000 and all(label and label == label.strip() for label in labels)
    assert (labels[0], labels[207], labels[281], labels[999]) == ("tench", "golden retriever", "tabby", "toilet tissue")


def test_model_input_squashes_the_whole_frame() -> None:
    rgb = np.zeros((300, 600, 3), np.uint8)
    rgb[:, :300] = 255  # left half white
    out = model_input(rgb)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    assert out[:, :110].min() == 255 and out[:, 114:].max() == 0  # nothing cropped, halves kept


# --- the torch file reader -------------------------------------------------------------------

class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def _legacy_file(payload: bytes) -> bytes:
    header = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    return header + payload + pickle.dumps([], protocol=2)


def _zip_file(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


@pytest.mark.parametrize("container", [_legacy_file, _zip_file])
def test_load_state_dict_refuses_code(tmp_path: Path, container) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(container(pickle.dumps({"weight": _Evil(marker)}, protocol=2)))
    with pytest.raises(UnsafeTorchFile, match="refusing to load .*system"):
        load_state_dict(evil)
    assert not marker.exists()


def test_load_state_dict_refuses_non_tensors(tmp_path: Path) -> None:
    path = tmp_path / "not_tensors.pth"
    path.write_bytes(_zip_file(pickle.dumps({"weight": [1, 2, 3]}, protocol=2)))
    with pytest.raises(UnsafeTorchFile, match="not a tensor"):
        load_state_dict(path)


@pytest.mark.parametrize("zip_format", [True, False])
def test_load_state_dict_matches_torch(tmp_path: Path, zip_format: bool) -> None:
    """Views with offsets and strides, several dtypes, both formats: as torch itself reads them."""
    torch = pytest.importorskip("torch")
    base = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    state = {
        "permuted": base.permute(2, 0, 1),
        "offset": base[1:, 2:],
        "half_t": torch.linspace(-2, 2, 12).half().reshape(3, 4).t(),
        "long": torch.tensor([7, 8, 9])[1:],
        "flags": torch.tensor([True, False]),
        "scalar": torch.tensor(3.5, dtype=torch.float64),
        "bfloat": torch.tensor([1.5, -2.0]).bfloat16(),
    }
    path = tmp_path / "state.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    loaded = load_state_dict(path)
    assert list(loaded) == list(state)
    for name, tensor in state.items():
        expected = tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()
        assert loaded[name].dtype == expected.dtype and loaded[name].shape == expected.shape, name
        np.testing.assert_array_equal(loaded[name], expected)
