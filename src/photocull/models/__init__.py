"""Neural network weights: where they come from, their checksums, conversion to ONNX, sessions."""
