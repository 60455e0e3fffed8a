"""A small ONNX graph builder for the converters: convolutional networks from plain numpy weights.

Both converters emit the same few operators (opset 17, IR version 8 so older
ONNX Runtime builds load the files too). Batch norms are folded into the
convolution before them, in float64, so the graph holds only Conv, Clip, Add,
pooling, Gemm and Softmax. The input is the photo as uint8 NHWC RGB; casting,
normalising and the move to NCHW happen inside the graph so that callers never
need to know a model's preprocessing constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from photocull.files import write_atomic

OPSET = 17
IR_VERSION = 8
BATCH = "N"  # the symbolic batch dimension


@dataclass(frozen=True, slots=True)
class BatchNorm:
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one axis: the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class GraphBuilder:
    """Collects nodes and weights; each method adds an operation and returns its output name."""

    def __init__(self, name: str):
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self._count = 0
        self._scalars: dict[float, str] = {}

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def weight(self, array: np.ndarray, hint: str) -> str:
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def scalar(self, value: float) -> str:
        """A float32 scalar constant, shared by every node that uses it."""
        if value not in self._scalars:
            self._scalars[value] = self.weight(np.array(value, dtype=np.float32), "const")
        return self._scalars[value]

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        out = self._name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def image_input(self, name: str, size: int, mean: float | tuple[float, float, float], std: float) -> str:
        """uint8 [N, size, size, 3] RGB input, as float32 NCHW ``(x - mean) / std``; ``mean`` one or per channel."""
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, [BATCH, size, size, 3]))
        x = self.op("Cast", [name], to=TensorProto.FLOAT)
        shift = self.weight(np.asarray(mean, np.float32), "mean") if isinstance(mean, tuple) else self.scalar(mean)
        x = self.op("Sub", [x, shift])
        x = self.op("Div", [x, self.scalar(std)])
        return self.op("Transpose", [x], perm=[0, 3, 1, 2])

    def conv_bn(self, x: str, weight: np.ndarray, bn: BatchNorm, stride: int = 1,
                pads: tuple[int, int, int, int] = (0, 0, 0, 0), group: int = 1, hint: str = "conv") -> str:
        """Conv (OIHW ``weight``, no bias) then inference batch norm, folded into one Conv.

        ``pads`` is (top, left, bottom, right), explicit so that Keras' symmetric
        zero padding and TensorFlow's asymmetric 'SAME' padding are both exact.
        """
        scale = bn.gamma.astype(np.float64) / np.sqrt(bn.var.astype(np.float64) + bn.eps)
        folded = weight.astype(np.float64) * scale[:, None, None, None]
        bias = bn.beta.astype(np.float64) - bn.mean.astype(np.float64) * scale
        return self.op(
            "Conv",
            [x, self.weight(folded.astype(np.float32), f"{hint}_w"), self.weight(bias.astype(np.float32), f"{hint}_b")],
            hint,
            kernel_shape=list(weight.shape[2:]),
            strides=[stride, stride],
            pads=list(pads),
            group=group,
        )

    def relu6(self, x: str) -> str:
        return self.op("Clip", [x, self.scalar(0.0), self.scalar(6.0)])

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def global_average_pool(self, x: str) -> str:
        """[N, C, H, W] -> [N, C]."""
        return self.op("Flatten", [self.op("GlobalAveragePool", [x])], axis=1)

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray, hint: str = "dense") -> str:
        """``x @ weight.T + bias`` with ``weight`` as [out, in]."""
        return self.op(
            "Gemm",
            [x, self.weight(weight.astype(np.float32), f"{hint}_w"), self.weight(bias.astype(np.float32), f"{hint}_b")],
            hint,
            transB=1,
        )

    def softmax(self, x: str) -> str:
        return self.op("Softmax", [x], axis=-1)

    def identity(self, x: str, name: str) -> str:
        """Gives ``x`` a public name (a graph output)."""
        self.nodes.append(helper.make_node("Identity", [x], [name], name=name))
        return name

    def build(self, outputs: dict[str, int], doc: str, producer: str, version: int) -> onnx.ModelProto:
        """The checked model; ``outputs`` maps each output (named with :meth:`identity`) to its width."""
        graph = helper.make_graph(
            self.nodes,
            self.name,
            self.inputs,
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH, width]) for name, width in outputs.items()],
            self.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=producer,
            producer_version=str(version),
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        model.model_version = version
        onnx.checker.check_model(model, full_check=True)
        return model


def save_model(model: onnx.ModelProto, target: Path) -> None:
    """Write ``model`` to ``target`` atomically: readers see the old file or the whole new one."""
    write_atomic(Path(target), model.SerializeToString())
