"""NIMA aesthetic model: Keras 2.1.6 HDF5 weights to ONNX, and the score distribution's mean and spread.

The weights (idealo's MobileNet aesthetic model) were trained with the Keras
2.1.6 MobileNet: every convolution, stride 1 or 2, is preceded by a symmetric
1-pixel ZeroPadding2D and is 'valid'. Later Keras versions pad stride-2 layers
only on the bottom/right; building the network that way would silently shift
every feature map, so the padding here is explicit. Batch norm epsilon is the
Keras default 1e-3, activations are ReLU6, and Keras' MobileNet preprocessing
maps pixels to ``x / 127.5 - 1``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from photocull.models.onnx_graph import BatchNorm, GraphBuilder, save_model

CONVERTER_VERSION = 1
SIZE = 224
BN_EPS = 1e-3
STRIDE_2_BLOCKS = {2, 4, 6, 12}  # MobileNet v1 blocks that halve the feature map
SCORES = np.arange(1, 11, dtype=np.float64)


def _layer(weights: h5py.Group, name: str) -> dict[str, np.ndarray]:
    """A Keras layer's weights by short name ('kernel', 'gamma', ...)."""
    group = weights[name]
    return {
        n.decode().rsplit("/", 1)[-1].split(":")[0]: np.asarray(group[n.decode()])
        for n in group.attrs["weight_names"]
    }


def _bn(weights: h5py.Group, name: str) -> BatchNorm:
    w = _layer(weights, name)
    return BatchNorm(w["gamma"], w["beta"], w["moving_mean"], w["moving_variance"], BN_EPS)


def convert(source: Path, target: Path) -> None:
    """Write the ONNX model (``image`` uint8 [N,224,224,3] -> ``scores`` [N,10]) built from ``source``."""
    g = GraphBuilder("nima_mobilenet_v1")
    pad1 = (1, 1, 1, 1)
    with h5py.File(source, "r") as weights:
        x = g.image_input("image", SIZE, mean=127.5, std=127.5)
        kernel = _layer(weights, "conv1")["kernel"].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        x = g.relu6(g.conv_bn(x, kernel, _bn(weights, "conv1_bn"), stride=2, pads=pad1, hint="conv1"))
        for block in range(1, 14):
            stride = 2 if block in STRIDE_2_BLOCKS else 1
            depthwise = _layer(weights, f"conv_dw_{block}")["depthwise_kernel"]  # H, W, C, 1
            channels = depthwise.shape[2]
            depthwise = depthwise.transpose(2, 3, 0, 1).reshape(channels, 1, 3, 3)
            x = g.conv_bn(x, depthwise, _bn(weights, f"conv_dw_{block}_bn"), stride=stride, pads=pad1,
                          group=channels, hint=f"conv_dw_{block}")
            x = g.relu6(x)
            pointwise = _layer(weights, f"conv_pw_{block}")["kernel"].transpose(3, 2, 0, 1)
            x = g.relu6(g.conv_bn(x, pointwise, _bn(weights, f"conv_pw_{block}_bn"), hint=f"conv_pw_{block}"))
        dense = _layer(weights, "dense_1")
        x = g.dense(g.global_average_pool(x), dense["kernel"].T, dense["bias"], hint="dense_1")
        g.identity(g.softmax(x), "scores")
    model = g.build(
        {"scores": len(SCORES)},
        doc="NIMA (MobileNet v1, AVA aesthetics): probability of each score 1..10 for a 224x224 RGB photo",
        producer="photocull.models.nima",
        version=CONVERTER_VERSION,
    )
    save_model(model, target)


def nima_mean_std(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each row's score distribution (probabilities of scores 1..10).

    Rows are renormalised to sum to 1 first, as the NIMA reference code does.
    """
    p = np.asarray(scores, dtype=np.float64)
    p = p / p.sum(axis=-1, keepdims=True)
    mean = p @ SCORES
    std = np.sqrt(np.sum(p * (SCORES - mean[..., None]) ** 2, axis=-1))
    return mean, std
