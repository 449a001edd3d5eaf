"""Runs an ONNX file in ncnn: pnnx converts it (fp16 off), ncnn runs it in float32 (fp16 and bf16 storage and
arithmetic off). Run with .venv-ncnn's Python (tools/setup.sh): ncnn_runner.py MODEL.onnx INPUT.npy OUTDIR.
Writes OUTDIR/output{i}.npy with the batch axis of 1 restored (ncnn has none). Exits 1, naming the layer, when pnnx
leaves an operator unconverted (it exits 0 then; only ncnn's load_param fails) or ncnn cannot run the model."""
import importlib.util
import os
import re
import subprocess
import sys

import ncnn
import numpy as np

PNNX = os.path.join(os.path.dirname(importlib.util.find_spec("pnnx").origin), "pnnx")


def main(model, input_path, out):
    x = np.load(input_path)
    os.makedirs(out, exist_ok=True)
    param, weights = os.path.join(out, "m.ncnn.param"), os.path.join(out, "m.ncnn.bin")
    shape = "[" + ",".join(map(str, x.shape)) + "]"
    r = subprocess.run([PNNX, os.path.abspath(model), "inputshape=" + shape, "fp16=0", "ncnnparam=" + param, "ncnnbin=" + weights,
                        "pnnxparam=" + os.path.join(out, "m.pnnx.param"), "pnnxbin=" + os.path.join(out, "m.pnnx.bin"),
                        "pnnxpy=" + os.path.join(out, "m_pnnx.py"), "pnnxonnx=" + os.path.join(out, "m.pnnx.onnx"),
                        "ncnnpy=" + os.path.join(out, "m_ncnn.py")], cwd=out, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"pnnx failed: {r.stderr.strip().splitlines()[-1:]}")
    leaked = [l.split()[0] + " " + l.split()[1] for l in open(param) if re.match(r"(Tensor|torch|F|nn|pnnx)\.", l)]
    if leaked:
        sys.exit(f"pnnx left {len(leaked)} operators unconverted: {', '.join(leaked[:3])}")
    net = ncnn.Net()
    o = net.opt
    o.use_fp16_storage = o.use_fp16_arithmetic = o.use_fp16_packed = False
    o.use_bf16_storage = o.use_bf16_packed = False
    o.num_threads = 2
    if net.load_param(param) != 0 or net.load_model(weights) != 0:
        sys.exit("ncnn cannot load the converted model")
    ex = net.create_extractor()
    ex.input("in0", ncnn.Mat(np.ascontiguousarray(x[0])).clone())
    i = 0
    while f"out{i}" in open(param).read():
        code, m = ex.extract(f"out{i}")
        if code != 0:
            sys.exit(f"ncnn could not compute out{i}")
        np.save(os.path.join(out, f"output{i}.npy"), np.array(m)[None])
        i += 1


if __name__ == "__main__":
    main(*sys.argv[1:4])
