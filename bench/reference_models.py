"""Reference implementations of photocull's two networks, for cross-checks and benchmarks only.

Dev-only: needs keras 3 and torch (and ``efficientnet_lite_pytorch``), which
photocull itself never imports. Each reference reads the weights with code that
is independent of photocull's converters:

* ``nima_reference_keras``: the Keras 2.1.6 MobileNet rebuilt layer by layer in
  Keras 3 (torch backend), weights read by Keras' own ``load_weights``;
* ``nima_torch``: the same network as a plain eager ``torch.nn.Module`` (the
  "PyTorch eager" baseline of the benchmark), weights read with h5py;
* ``efficientnet_lite0_torch``: the ``efficientnet_lite_pytorch`` package's
  model, weights read by ``torch.load``.

All take a uint8 or float NHWC RGB batch of 224 x 224 photos, exactly like the
ONNX models, and apply the preprocessing their reference defines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

SIZE = 224
BN_EPS = 1e-3  # Keras and efficientnet_lite_pytorch both
# (filters, stride) of MobileNet v1's 13 depthwise separable blocks
MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    *[(512, 1)] * 5, (1024, 2), (1024, 1)]
EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD = 127.0, 128.0  # TF efficientnet_lite_builder MEAN_RGB, STDDEV_RGB


def nima_reference_keras(weights: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Keras 2.1.6 MobileNet + Dropout + Dense(10, softmax); returns images -> probabilities [N, 10].

    Keras 2.1.6 pads before every 3x3 convolution with ZeroPadding2D((1, 1)),
    whatever the stride, then convolves 'valid'; layer names are the file's.
    """
    assert os.environ["KERAS_BACKEND"] == "torch", "import this module before keras"
    import keras
    from keras import layers

    def conv_bn(x, name: str, pad_name: str | None, conv: layers.Layer, bn_name: str):
        if pad_name:
            x = layers.ZeroPadding2D(padding=(1, 1), name=pad_name)(x)
        x = conv(x)
        x = layers.BatchNormalization(epsilon=BN_EPS, name=bn_name)(x)
        return layers.ReLU(max_value=6.0, name=f"{name}_relu")(x)

    inputs = keras.Input(shape=(SIZE, SIZE, 3), name="input_1")
    x = layers.Rescaling(scale=1 / 127.5, offset=-1.0, name="preprocess")(inputs)  # mobilenet.preprocess_input
    x = conv_bn(x, "conv1", "conv1_pad",
                layers.Conv2D(32, 3, strides=2, padding="valid", use_bias=False, name="conv1"), "conv1_bn")
    for block, (filters, stride) in enumerate(MOBILENET_BLOCKS, start=1):
        x = conv_bn(x, f"conv_dw_{block}", f"conv_pad_{block}",
                    layers.DepthwiseConv2D(3, strides=stride, padding="valid", use_bias=False,
                                           name=f"conv_dw_{block}"), f"conv_dw_{block}_bn")
        x = conv_bn(x, f"conv_pw_{block}", None,
                    layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"conv_pw_{block}"),
                    f"conv_pw_{block}_bn")
    x = layers.GlobalAveragePooling2D(name="global_average_pooling2d_1")(x)
    x = layers.Dropout(0.75, name="dropout_1")(x)
    outputs = layers.Dense(10, activation="softmax", name="dense_1")(x)
    model = keras.Model(inputs, outputs, name="nima")
    model.load_weights(str(weights))

    def predict(images: np.ndarray) -> np.ndarray:
        out = model(np.asarray(images, dtype=np.float32), training=False)
        return keras.ops.convert_to_numpy(out)

    return predict


class _ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, groups: int = 1):
        pad = [nn.ZeroPad2d(1)] if kernel == 3 else []
        super().__init__(*pad, nn.Conv2d(cin, cout, kernel, stride, bias=False, groups=groups),
                         nn.BatchNorm2d(cout, eps=BN_EPS), nn.ReLU6())


class MobileNetNima(nn.Module):
    """NIMA as an eager torch model: forward(uint8 or float NHWC images) -> probabilities [N, 10]."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = [_ConvBN(3, 32, 3, 2)]
        cin = 32
        for filters, stride in MOBILENET_BLOCKS:
            layers += [_ConvBN(cin, cin, 3, stride, groups=cin), _ConvBN(cin, filters, 1, 1)]
            cin = filters
        self.features = nn.Sequential(*layers)
        self.dense = nn.Linear(cin, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        x = self.features(x).mean(dim=(2, 3))
        return torch.softmax(self.dense(x), dim=1)


def nima_torch(weights: Path) -> MobileNetNima:
    """:class:`MobileNetNima` in eval mode with the weights of the Keras HDF5 file (read with h5py)."""
    model = MobileNetNima().eval()
    with h5py.File(weights, "r") as f:
        def get(layer: str, name: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(f[layer][layer][f"{name}:0"]))

        names = ["conv1"] + [f"conv_{kind}_{b}" for b in range(1, 14) for kind in ("dw", "pw")]
        with torch.no_grad():
            for block, name in zip(model.features, names):
                conv, bn = block[-3], block[-2]
                kernel = get(name, "depthwise_kernel" if "_dw_" in name else "kernel")
                conv.weight.copy_(kernel.permute(2, 3, 0, 1) if "_dw_" in name else kernel.permute(3, 2, 0, 1))
                bn.weight.copy_(get(f"{name}_bn", "gamma"))
                bn.bias.copy_(get(f"{name}_bn", "beta"))
                bn.running_mean.copy_(get(f"{name}_bn", "moving_mean"))
                bn.running_var.copy_(get(f"{name}_bn", "moving_variance"))
            model.dense.weight.copy_(get("dense_1", "kernel").T)
            model.dense.bias.copy_(get("dense_1", "bias"))
    return model


class EfficientNetLite0Reference(nn.Module):
    """efficientnet_lite_pytorch's model: forward(uint8 or float NHWC) -> (pooled features, probabilities)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (images.permute(0, 3, 1, 2).float() - EFFICIENTNET_LITE_MEAN) / EFFICIENTNET_LITE_STD
        features = self.net.extract_features(x)
        pooled = self.net._avg_pooling(features).flatten(1)
        logits = self.net._fc(self.net._dropout(pooled))
        return pooled, torch.softmax(logits, dim=1)


def efficientnet_lite0_torch(weights: Path) -> EfficientNetLite0Reference:
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
    return EfficientNetLite0Reference(net).eval()


def run_torch(model: nn.Module, images: np.ndarray):
    """Runs a torch reference on a numpy batch; numpy out (a tuple for several outputs)."""
    with torch.inference_mode():
        out = model(torch.from_numpy(np.ascontiguousarray(images)))
    return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()
