"""Our reader of dlib's face descriptor network, against dlib itself on real faces.

The weights file is converted by :mod:`photocull.models.dlib_resnet` and the
ONNX model's descriptors are compared with ``dlib.face_recognition_model_v1``
on the faces of ``faces/people`` (found by dlib's HOG detector, aligned by the
5-point landmark model), so a misread layer or padding shows up directly.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from photocull.models import dlib_resnet

TOLERANCE = 1e-3
SAME_PERSON = 0.6  # dlib's threshold


@pytest.fixture(scope="module")
def source(model_sources: dict[str, Path]) -> Path:
    return model_sources["dlib-face-descriptor"]


@pytest.fixture(scope="module")
def session(source: Path, tmp_path_factory: pytest.TempPathFactory):
    import onnxruntime

    target = tmp_path_factory.mktemp("dlib_resnet") / "descriptor.onnx"
    dlib_resnet.convert(source, target)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def faces(corpus: Path, model_sources: dict[str, Path], source: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(person, 150 x 150 chip, dlib's descriptor) of every face in ``faces/people``."""
    import dlib

    from photocull.config import Settings
    from photocull.ingest.decode import decode

    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(model_sources["dlib-landmarks-5"]))
    network = dlib.face_recognition_model_v1(str(source))
    found = []
    for path in sorted((corpus / "faces" / "people").glob("*/*")):
        rgb = decode(path.read_bytes(), path, Settings().ingest).rgb
        for box in detector(rgb, 1):
            shape = landmarks(rgb, box)
            chip = dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
            reference = np.array(network.compute_face_descriptor(rgb, shape, 0, 0.25), dtype=np.float32)
            found.append((path.parent.name, chip, reference))
    assert len({person for person, _, _ in found}) >= 4, "expected faces of several people in faces/people"
    return found


def test_descriptors_match_dlib(session, faces) -> None:
    for person, chip, reference in faces:
        (ours,) = session.run(None, {"chip": chip[None]})
        assert ours.shape == (1, dlib_resnet.DIMENSIONS) and ours.dtype == np.float32
        assert np.abs(ours[0] - reference).max() < TOLERANCE, person


def test_batches_match_single_faces(session, faces) -> None:
    chips = np.stack([chip for _, chip, _ in faces])
    (batch,) = session.run(None, {"chip": chips})
    references = np.stack([reference for _, _, reference in faces])
    assert np.abs(batch - references).max() < TOLERANCE


def test_distances_preserved(session, faces) -> None:
    """Same person and different people stay on the same side of dlib's threshold, at the same distances."""
    (ours,) = session.run(None, {"chip": np.stack([chip for _, chip, _ in faces])})
    for (i, (a, _, ref_a)), (j, (b, _, ref_b)) in itertools.combinations(enumerate(faces), 2):
        theirs = float(np.linalg.norm(ref_a - ref_b))
        mine = float(np.linalg.norm(ours[i] - ours[j]))
        assert abs(mine - theirs) < TOLERANCE, (a, b)
        assert (mine < SAME_PERSON) == (theirs < SAME_PERSON) == (a == b), (a, b, theirs)


def test_reader_rejects_damaged_files(source: Path) -> None:
    data = source.read_bytes()
    with pytest.raises(ValueError, match="truncated"):
        dlib_resnet.read_network(data[: len(data) // 2])
    with pytest.raises(ValueError, match="left after"):
        dlib_resnet.read_network(data + b"\x01\x00")
    with pytest.raises(ValueError, match="loss"):
        dlib_resnet.read_network(b"\x01\x01\x01\x0aloss_mmod_")  # another network type
