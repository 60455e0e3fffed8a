"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``) to ONNX.

dlib's build on PyPI has no BLAS, so its network takes 95-180 ms a face; the
same weights under ONNX Runtime are many times faster. The file is read by our
own parser, following dlib 19/20's ``serialize`` code, and nothing of dlib is
needed to convert.

The format. dlib's files are not self-describing: like dlib, the reader must
know the network type (``anet_type`` of dlib's ``face_recognition.cpp``, see
:data:`ARCHITECTURE`). Primitive encodings (``dlib/serialize.h``):

* integers: a control byte (byte count in the low nibble, 0x80 if negative),
  then that many little-endian bytes of the magnitude; zero is ``01 00``;
* strings: length (integer) then the bytes; bools: the character '0' or '1';
* floats: dlib's portable ``float_details``, integers mantissa (int64) and
  exponent (int16), value ``mantissa * 2**exponent``;
* tensors (``dlib/cuda/tensor.h``): version 2, num_samples, k, nr, nc, then
  float32 little-endian; alias tensors (views into a layer's parameters):
  version 1 and the four dimensions.

The network (``dlib/dnn/core.h``) nests from the loss inwards: the loss layer
(version, ``loss_metric_2`` with margin and distance threshold, subnetwork);
each ``add_layer`` writes its version, then its whole subnetwork, then its own
layer and bookkeeping (three bools and the x_grad, cached_output and
params_grad tensors, all empty in a saved model); ``tag``/``skip`` layers write
a version and their subnetwork only. The innermost ``add_layer`` holds the
input layer (``input_rgb_image_sized``: the three channel means and 150 x 150)
and ends with grad_final and, in version 3, the sample expansion factor. So
the file is every layer's version from the output inwards, the input, then
each layer's parameters from the input outwards.

The mapping. ``con`` (filters num x k x nr x nc, a true cross-correlation like
ONNX Conv, with the stride and padding in the file) and the ``affine`` after
it (the frozen batch norm, ``x * gamma + beta`` per channel) fold into one
Conv; relu is Relu; ``max_pool`` and ``avg_pool`` are MaxPool and AveragePool
with the file's padding; ``avg_pool_everything`` is GlobalAveragePool;
``fc_no_bias`` is a Gemm by its num_inputs x num_outputs weights. dlib pads
convolutions and pools by half the window only at stride 1, so the 7x7 stride-2
convolution, the max pool and the stride-2 convolutions of the down-sampling
blocks have none (feature maps 150, 72, 35, then 17, 8, 4, 2 after the
down-sampling blocks). ``add_prev`` adds
tensors of different shapes as dlib's ``tt::add`` does: both zero-padded at the
end of each axis to the larger size. That happens in every down-sampling block:
the 2x average-pooled shortcut has fewer channels, and in the last two the
convolution branch is smaller than the shortcut (3x3 against 4x4, 1x1 against
2x2). The input, dlib's ``(pixel - channel mean) / 256`` with the means from
the file, is in the graph. The descriptor is not normalised, as dlib returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photocull.models.onnx_graph import BatchNorm, GraphBuilder, save_model

CONVERTER_VERSION = 1
SIZE = 150
DIMENSIONS = 128
Shape = tuple[int, ...]  # C, H, W of a feature map
PIXEL_SCALE = 256.0  # dlib's input_rgb_image divides by 256 after subtracting the mean


def _residual(filters: int, down: bool) -> list[tuple]:
    """dlib's ``ares`` (or ``ares_down``), input to output."""
    stride = 2 if down else 1
    block = [("tag", 1), ("con", filters, 3, stride), ("affine",), ("relu",), ("con", filters, 3, 1), ("affine",)]
    if down:
        return [*block, ("tag", 2), ("skip", 1), ("avg_pool", 2, 2), ("add_prev", 2), ("relu",)]
    return [*block, ("add_prev", 1), ("relu",)]


def _level(filters: int, plain: int, down: bool = True) -> list[tuple]:
    """A dlib ``alevel``: one down-sampling block (unless ``down`` is false), then ``plain`` plain ones."""
    first = _residual(filters, True) if down else []
    return first + [layer for _ in range(plain) for layer in _residual(filters, False)]


# anet_type of dlib's face_recognition.cpp, input to output (without the input and loss layers).
ARCHITECTURE: list[tuple] = [
    ("con", 32, 7, 2), ("affine",), ("relu",), ("max_pool", 3, 2),
    *_level(32, 3, down=False),  # alevel4
    *_level(64, 3),  # alevel3
    *_level(128, 2),  # alevel2
    *_level(256, 2),  # alevel1
    *_level(256, 0),  # alevel0
    ("avg_pool_everything",), ("fc", DIMENSIONS),
]


class _Reader:
    """dlib's primitive encodings, read from the bytes of a file."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise ValueError(f"dlib file truncated at byte {self.pos}")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def integer(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise ValueError(f"not a dlib integer at byte {self.pos - 1} (control byte {control:#x})")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def string(self) -> str:
        return self._take(self.integer()).decode("ascii")

    def boolean(self) -> bool:
        ch = self._take(1)
        if ch not in (b"0", b"1"):
            raise ValueError(f"not a dlib bool at byte {self.pos - 1}")
        return ch == b"1"

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's codes for inf, -inf and NaN
            raise ValueError(f"non-finite float at byte {self.pos}")
        return float(np.ldexp(np.float64(mantissa), exponent))

    def tensor(self) -> np.ndarray:
        self.expect_version(2, what="tensor")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        self.expect_version(1, what="alias tensor")
        return tuple(self.integer() for _ in range(4))

    def expect_version(self, *allowed: int | str, what: str) -> int | str:
        found = self.string() if isinstance(allowed[0], str) else self.integer()
        if found not in allowed:
            raise ValueError(f"{what}: version {found!r} at byte {self.pos}, expected one of {allowed}")
        return found

    def expect(self, value: int, what: str) -> None:
        found = self.integer()
        if found != value:
            raise ValueError(f"{what}: {found} in the file, expected {value}")


@dataclass
class Layer:
    """One layer of :data:`ARCHITECTURE` with what the file gave for it."""

    spec: tuple
    weight: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))  # con: OIHW; fc: inputs x outputs
    bias: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    pads: tuple[int, int] = (0, 0)
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Network:
    means: tuple[float, float, float]  # red, green, blue
    layers: list[Layer]


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """A layer's flat parameter tensor cut into its alias tensors, in order."""
    flat, out, at = params.reshape(-1), [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[at:at + size].reshape(shape))
        at += size
    if at != flat.size:
        raise ValueError(f"parameter tensor of {flat.size} values, aliases cover {at}")
    return out


def _read_con(r: _Reader, layer: Layer) -> None:
    _, filters, kernel, stride = layer.spec
    version = r.expect_version("con_4", "con_5", "con_6", what="con")
    params = r.tensor()
    r.expect(filters, "con filters")
    r.expect(kernel, "con rows")
    r.expect(kernel, "con columns")
    r.expect(stride, "con stride y")
    r.expect(stride, "con stride x")
    layer.pads = (r.integer(), r.integer())
    weight, bias = _split(params, r.alias(), r.alias())
    for _ in range(4):  # learning rate and weight decay multipliers
        r.real()
    use_bias = r.boolean() if version in ("con_5", "con_6") else True
    if version == "con_6" and r.boolean():
        raise ValueError("con with a fused relu is not supported")
    layer.weight, layer.bias = weight, bias.reshape(-1) if use_bias else np.zeros(filters, np.float32)


def _read_affine(r: _Reader, layer: Layer) -> None:
    version = r.expect_version("affine_", "affine_2", what="affine")
    gamma, beta = _split(r.tensor(), r.alias(), r.alias())
    if r.integer() != 0:
        raise ValueError("affine layer not in convolution mode")
    if version == "affine_2" and r.boolean():
        raise ValueError("disabled affine layer is not supported")
    layer.params = {"gamma": gamma.reshape(-1), "beta": beta.reshape(-1)}


def _read_pool(r: _Reader, layer: Layer, version: str) -> None:
    window, stride = layer.spec[1:] if len(layer.spec) == 3 else (0, 1)
    r.expect_version(version, what=layer.spec[0])
    for value, what in ((window, "rows"), (window, "columns"), (stride, "stride y"), (stride, "stride x")):
        r.expect(value, f"{layer.spec[0]} {what}")
    layer.pads = (r.integer(), r.integer())


def _read_fc(r: _Reader, layer: Layer) -> None:
    version = r.expect_version("fc_2", "fc_3", what="fc")
    r.expect(layer.spec[1], "fc outputs")
    inputs = r.integer()
    params = r.tensor()
    weights_shape, bias_shape = r.alias(), r.alias()
    if r.integer() != 1:  # FC_NO_BIAS
        raise ValueError("expected fc_no_bias")
    for _ in range(4):
        r.real()
    if version == "fc_3":
        r.boolean()
    (layer.weight,) = _split(params, weights_shape)
    if layer.weight.shape[:2] != (inputs, layer.spec[1]) or int(np.prod(bias_shape)) != 0:
        raise ValueError(f"fc weights {weights_shape}, bias {bias_shape}")


def _read_details(r: _Reader, layer: Layer) -> None:
    kind = layer.spec[0]
    if kind == "con":
        _read_con(r, layer)
    elif kind == "affine":
        _read_affine(r, layer)
    elif kind == "relu":
        if r.expect_version("relu_", "relu_2", what="relu") == "relu_2" and r.boolean():
            raise ValueError("disabled relu is not supported")
    elif kind == "max_pool":
        _read_pool(r, layer, "max_pool_2")
    elif kind in ("avg_pool", "avg_pool_everything"):
        _read_pool(r, layer, "avg_pool_2")
    elif kind == "add_prev":
        r.expect_version("add_prev_", what="add_prev")
    elif kind == "fc":
        _read_fc(r, layer)


def read_network(data: bytes) -> Network:
    """Parse dlib's serialization of :data:`ARCHITECTURE` (``anet_type``) into weights."""
    r = _Reader(data)
    r.expect_version(1, what="loss layer")
    if r.expect_version("loss_metric_", "loss_metric_2", what="loss") == "loss_metric_2":
        r.real(), r.real()  # margin, distance threshold: training only
    layers = [Layer(spec) for spec in ARCHITECTURE]
    # Versions from the output inwards; the innermost add_layer (the first con) holds the input.
    for i in reversed(range(len(layers))):
        kind = layers[i].spec[0]
        allowed = (1,) if kind in ("tag", "skip") else (2, 3) if i == 0 else (1, 2)
        input_version = r.expect_version(*allowed, what=f"layer {i} ({kind})")
    r.expect_version("input_rgb_image_sized", what="input layer")
    means = (r.real(), r.real(), r.real())
    r.expect(SIZE, "input rows")
    r.expect(SIZE, "input columns")
    for i, layer in enumerate(layers):
        if layer.spec[0] in ("tag", "skip"):
            continue
        _read_details(r, layer)
        r.boolean(), r.boolean(), r.boolean()  # setup called, gradient stale, output disabled
        r.tensor(), r.tensor()  # x_grad, cached_output
        r.tensor()  # params_grad, or grad_final for the input layer
        if i == 0 and input_version == 3:
            r.integer()  # sample expansion factor
    if r.pos != len(data):
        raise ValueError(f"{len(data) - r.pos} bytes left after the network")
    return Network(means, layers)


def _padded_add(g: GraphBuilder, a: str, a_shape: Shape, b: str, b_shape: Shape) -> tuple[str, Shape]:
    """dlib's add_prev: both [N, C, H, W] zero-padded at the end of each axis to the larger size."""
    shape = tuple(max(x, y) for x, y in zip(a_shape, b_shape))
    padded = []
    for name, own in ((a, a_shape), (b, b_shape)):
        if own != shape:
            pads = np.array([0, 0, 0, 0, 0, *(s - o for s, o in zip(shape, own))], dtype=np.int64)
            name = g.op("Pad", [name, g.weight(pads, "pads")])
        padded.append(name)
    return g.add(*padded), shape


def build(network: Network) -> GraphBuilder:
    """The ONNX graph of ``network``: ``chip`` uint8 [N,150,150,3] RGB -> ``descriptor`` [N,128]."""
    g = GraphBuilder("dlib_face_recognition_resnet_v1")
    x = g.image_input("chip", SIZE, mean=network.means, std=PIXEL_SCALE)
    shape: Shape = (3, SIZE, SIZE)
    tags: dict[int, tuple[str, Shape]] = {}
    layers = network.layers
    for i, layer in enumerate(layers):
        kind = layer.spec[0]
        if kind == "con":  # with the affine layer after it, which has no branch of its own
            affine = layers[i + 1]
            if affine.spec[0] != "affine":
                raise ValueError("every con must be followed by an affine layer")
            gamma = affine.params["gamma"].astype(np.float64)
            # affine(conv(x) + bias) = gamma * conv(x) + (gamma * bias + beta): a batch norm of mean 0, variance 1.
            beta = affine.params["beta"] + gamma * layer.bias
            bn = BatchNorm(gamma, beta, np.zeros_like(gamma), np.ones_like(gamma), 0.0)
            stride, (pad_y, pad_x) = layer.spec[3], layer.pads
            x = g.conv_bn(x, layer.weight, bn, stride=stride, pads=(pad_y, pad_x, pad_y, pad_x), hint=f"con{i}")
            kernel = layer.spec[2]
            shape = (layer.spec[1], *((s + 2 * p - kernel) // stride + 1 for s, p in zip(shape[1:], layer.pads)))
        elif kind == "relu":
            x = g.op("Relu", [x])
        elif kind in ("max_pool", "avg_pool"):
            window, stride = layer.spec[1:]
            pad_y, pad_x = layer.pads
            x = g.op("MaxPool" if kind == "max_pool" else "AveragePool", [x], kernel_shape=[window, window],
                     strides=[stride, stride], pads=[pad_y, pad_x, pad_y, pad_x])
            shape = (shape[0], *((s + 2 * p - window) // stride + 1 for s, p in zip(shape[1:], layer.pads)))
        elif kind == "tag":
            tags[layer.spec[1]] = (x, shape)
        elif kind == "skip":
            x, shape = tags[layer.spec[1]]
        elif kind == "add_prev":
            x, shape = _padded_add(g, x, shape, *tags[layer.spec[1]])
        elif kind == "avg_pool_everything":
            x = g.global_average_pool(x)
        elif kind == "fc":
            x = g.dense(x, layer.weight.reshape(layer.weight.shape[0], -1).T, np.zeros(layer.spec[1], np.float32),
                        hint="fc")
    g.identity(x, "descriptor")
    return g


def convert(source: Path, target: Path) -> None:
    """Write the ONNX model (``chip`` uint8 [N,150,150,3] -> ``descriptor`` [N,128]) built from ``source``."""
    network = read_network(Path(source).read_bytes())
    model = build(network).build(
        {"descriptor": DIMENSIONS},
        doc="dlib ResNet face descriptor (dlib_face_recognition_resnet_model_v1): 128-d identity of an aligned "
            "150x150 RGB face chip (dlib.get_face_chip, padding 0.25); same person below distance 0.6",
        producer="photocull.models.dlib_resnet",
        version=CONVERTER_VERSION,
    )
    save_model(model, target)
