#!/usr/bin/env python
"""Store reference outputs of NIMA and EfficientNet-Lite0 as test expectations.

Dev-only (needs keras 3, torch and efficientnet_lite_pytorch, see
``bench/reference_models.py``). For a few corpus photos it makes the exact
224 x 224 network input (``reference_input`` of the test, recorded by SHA-256)
and writes the reference implementations' outputs on it to
``tests/models/expectations/reference_outputs.json``; the tests then check photocull's own ONNX conversions against them without any of
those libraries. Finally it converts the weights with photocull and prints
the largest differences from the references (and of the eager torch NIMA,
the benchmark's baseline, from Keras).

Usage::

    python bench/make_reference_expectations.py --nima weights_aisthetics.hdf5 \\
        --efficientnet efficientnet-lite0-57934424.pth [--corpus ../shared/corpus]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import reference_models as ref  # noqa: E402  (sets KERAS_BACKEND before keras loads)

sys.path.insert(0, str(ROOT))
from tests.models.test_conversion import reference_input  # noqa: E402

from photocull.models import efficientnet_lite, nima  # noqa: E402
from photocull.models.known import MODELS  # noqa: E402

EXPECTATIONS = ROOT / "tests" / "models" / "expectations"
# name -> (corpus file, Gaussian blur sigma as a fraction of the long edge, or 0)
PHOTOS = {
    "baboon": ("scenes/baboon.jpg", 0.0),  # sharp animal close-up
    "baboon_blurred": ("scenes/baboon.jpg", 0.01),  # the same, strongly blurred
    "butterfly": ("scenes/butterfly.jpg", 0.0),
    "fruits": ("scenes/fruits.jpg", 0.0),
    "leuven": ("scenes/leuvenA.jpg", 0.0),  # street scene, buildings
    "text_defocus": ("scenes/text_defocus.jpg", 0.0),  # genuinely out of focus
    "obama": ("faces/groups/obama1.jpg", 0.0),  # a face
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nima", type=Path, required=True, help="weights_aisthetics.hdf5")
    parser.add_argument("--efficientnet", type=Path, required=True, help="efficientnet-lite0-57934424.pth")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    for name, path in (("nima", args.nima), ("efficientnet-lite0", args.efficientnet)):
        if _sha256(path) != MODELS[name].sha256:
            sys.exit(f"{path}: not the pinned {name} weights (SHA-256 differs)")

    EXPECTATIONS.mkdir(parents=True, exist_ok=True)
    inputs = {}
    for name, (member, blur) in PHOTOS.items():
        inputs[name] = reference_input(args.corpus, member, blur)
    batch = np.stack(list(inputs.values()))

    nima_probs = ref.nima_reference_keras(args.nima)(batch)
    means, stds = nima.nima_mean_std(nima_probs)
    embeddings, probabilities = ref.run_torch(ref.efficientnet_lite0_torch(args.efficientnet), batch)
    labels = efficientnet_lite.imagenet_labels()

    outputs = {}
    for i, name in enumerate(inputs):
        order = np.argsort(-probabilities[i])
        top5 = order[:5]
        gap = float(probabilities[i, order[4]] - probabilities[i, order[5]])
        outputs[name] = {
            "member": PHOTOS[name][0],
            "blur": PHOTOS[name][1],
            "input_sha256": hashlib.sha256(inputs[name].tobytes()).hexdigest(),
            "nima": {
                "probabilities": [round(float(p), 6) for p in nima_probs[i]],
                "mean": round(float(means[i]), 6),
                "std": round(float(stds[i]), 6),
            },
            "efficientnet": {
                "top5": [int(k) for k in top5],
                "top5_labels": [labels[k] for k in top5],
                "top5_probabilities": [round(float(probabilities[i, k]), 6) for k in top5],
                "top5_margin": round(gap, 6),  # 5th minus 6th probability: how safe the top-5 check is
                "embedding_first16": [round(float(v), 5) for v in embeddings[i, :16]],
                "embedding_norm": round(float(np.linalg.norm(embeddings[i])), 5),
                "embedding": [round(float(v), 5) for v in embeddings[i]],
            },
        }
        print(f"{name:15} NIMA {means[i]:.3f} +- {stds[i]:.3f}   top-1 {labels[top5[0]]} ({probabilities[i, top5[0]]:.3f})")

    document = {
        "about": "Reference outputs for tests/models/test_conversion.py, made by bench/make_reference_expectations.py "
                 "on inputs rebuilt from the corpus by tests/models/test_conversion.py:reference_input "
                 "(uint8 224x224 RGB, photocull.models.preprocess.model_input), pinned by input_sha256.",
        "nima_reference": "Keras 3 (torch backend) MobileNet as in Keras 2.1.6 (symmetric 1-pixel zero padding), "
                          "weights read by keras load_weights; input x / 127.5 - 1",
        "efficientnet_reference": "efficientnet_lite_pytorch EfficientNet.from_pretrained('efficientnet-lite0'); "
                                  "input (x - 127) / 128; embedding = average-pooled features before the classifier",
        "sources_sha256": {name: MODELS[name].sha256 for name in ("nima", "efficientnet-lite0")},
        "versions": {dist: metadata.version(dist) for dist in
                     ("keras", "torch", "efficientnet-lite-pytorch", "h5py", "numpy", "opencv-python-headless")},
        "outputs": outputs,
    }
    text = json.dumps(document, indent=1)
    # One line per list of numbers, so that the file stays readable and diffs stay short.
    text = re.sub(r"\[\s+([-0-9.e,\s]+?)\s+\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    (EXPECTATIONS / "reference_outputs.json").write_text(text + "\n", encoding="utf-8")

    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        nima.convert(args.nima, Path(tmp) / "nima.onnx")
        efficientnet_lite.convert(args.efficientnet, Path(tmp) / "efficientnet.onnx")
        (ours_nima,) = ort.InferenceSession(str(Path(tmp) / "nima.onnx")).run(None, {"image": batch})
        ours_emb, ours_prob = ort.InferenceSession(str(Path(tmp) / "efficientnet.onnx")).run(None, {"image": batch})
    eager_nima = ref.run_torch(ref.nima_torch(args.nima), batch)
    print(f"max |ONNX - reference|: NIMA probabilities {np.abs(ours_nima - nima_probs).max():.2e}, "
          f"EfficientNet embedding {np.abs(ours_emb - embeddings).max():.2e}, "
          f"probabilities {np.abs(ours_prob - probabilities).max():.2e}")
    print(f"max |NIMA torch eager - Keras|: {np.abs(eager_nima - nima_probs).max():.2e}")


if __name__ == "__main__":
    main()
