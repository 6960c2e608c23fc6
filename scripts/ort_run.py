"""Runs an ONNX model in ONNX Runtime (CPU) on a float32 batch: Lathe's check that what it
exports is what a runtime computes, and its second real-execution backend.

    ort_run.py MODEL.onnx INPUT.f32 N,C,H,W OUTPUT.f32 [--threads T]

INPUT.f32 holds N·C·H·W little-endian float32 values (C order); OUTPUT.f32 receives the first
output's values the same way, and its shape is printed on stdout as `shape: N,K`. Exits non-zero
with ONNX Runtime's message when the model does not load or run.
"""
import argparse
import sys

import numpy as np
import onnxruntime as ort


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("shape")
    p.add_argument("output")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    shape = [int(s) for s in a.shape.split(",")]
    x = np.fromfile(a.input, dtype="<f4")
    if x.size != int(np.prod(shape)):
        sys.exit(f"{a.input}: {x.size} float32 values, expected {int(np.prod(shape))} for shape {shape}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = a.threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(a.model, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        y = session.run(None, {name: x.reshape(shape)})[0]
    except Exception as error:  # ORT raises its own exception types; report them as they are
        sys.exit(f"{a.model}: ONNX Runtime refused the model: {error}")
    np.ascontiguousarray(y, dtype="<f4").tofile(a.output)
    print("shape: " + ",".join(str(d) for d in y.shape))


if __name__ == "__main__":
    main()
