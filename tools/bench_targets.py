#!/usr/bin/env python3
"""Each runtime profile (`export --target`) against the generic export, in that runtime, in one run; rewrites the
"Runtime profiles" section of BENCHMARKS.md. Rerun with: .venv/bin/python tools/bench_targets.py

Latency is the median of 10 runs after 2 warm-ups, 2 threads, on a 1x3xHxW input: onnxruntime (the ort and tensorrt
profiles; TensorRT itself does not run here), OpenCV DNN, OpenVINO (CPU, f32 hint) and ncnn (pnnx-converted, fp32, in
.venv-ncnn). A generic file the runtime cannot load shows as "fails". libonnx has no registry package; its figures
are measured by hand (README: "--target: runtime profiles").
"""
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import openvino as ov

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("YOLO_COMPILE", str(ROOT / ".build/release/yolo-compile"))
REPEAT, WARMUP = 10, 2
MODELS = [("yolov5n", 640), ("yolov5s", 640), ("yolov5-efficientvit", 640), ("yolov5-mobilevit", 576),
          ("yolov5-mobilenetv3", 640), ("yolov8n", 640), ("yolo11n-seg", 640)]
NCNN_TIMER = r"""
import sys, time, statistics, importlib.util, os, subprocess, numpy as np, ncnn
model, size, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pnnx = os.path.join(os.path.dirname(importlib.util.find_spec("pnnx").origin), "pnnx")
param, weights = os.path.join(work, "m.ncnn.param"), os.path.join(work, "m.ncnn.bin")
subprocess.run([pnnx, model, f"inputshape=[1,3,{size},{size}]", "fp16=0", "ncnnparam=" + param, "ncnnbin=" + weights,
                "pnnxparam=" + work + "/p.param", "pnnxbin=" + work + "/p.bin", "pnnxpy=" + work + "/p.py",
                "pnnxonnx=" + work + "/p.onnx", "ncnnpy=" + work + "/n.py"], cwd=work, capture_output=True, check=True)
net = ncnn.Net(); o = net.opt
o.use_fp16_storage = o.use_fp16_arithmetic = o.use_fp16_packed = o.use_bf16_storage = o.use_bf16_packed = False
o.num_threads = 2
if net.load_param(param) != 0 or net.load_model(weights) != 0: sys.exit(1)
data = np.random.default_rng(0).random((3, size, size), dtype=np.float32)
times = []
for i in range(12):
    x = ncnn.Mat(data).clone()
    t = time.perf_counter(); ex = net.create_extractor(); ex.input("in0", x); code, y = ex.extract("out0"); times.append(time.perf_counter() - t)
    if code != 0: sys.exit(2)
    del ex
print(statistics.median(times[2:]) * 1000)
"""


def median_ms(run):
    for _ in range(WARMUP):
        run()
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def ort_ms(path, x):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 2
    s = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
    return median_ms(lambda: s.run(None, {"images": x}))


def opencv_ms(path, x):
    cv2.setNumThreads(2)
    net = cv2.dnn.readNetFromONNX(str(path))

    def run():
        net.setInput(x)
        net.forward()
    return median_ms(run)


def openvino_ms(path, x):
    c = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2})
    return median_ms(lambda: c([x]))


def ncnn_ms(path, size, work):
    r = subprocess.run([str(ROOT / ".venv-ncnn/bin/python"), "-c", NCNN_TIMER, str(path), str(size), str(work)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip()[-200:])
    return float(r.stdout.strip())


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in MODELS:
            x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
            paths = {}
            for target in ["generic", "ort", "opencv", "openvino", "ncnn", "tensorrt"]:
                paths[target] = Path(tmp) / f"{name}-{target}.onnx"
                subprocess.run([BIN, "export", str(ROOT / "samples" / f"{name}.yaml"), "-o", str(paths[target]), "--imgsz", str(size),
                                "--target", target], check=True, capture_output=True)
            for runtime, target, measure in [
                ("onnxruntime", "ort", lambda p: ort_ms(p, x)),
                ("onnxruntime", "tensorrt", lambda p: ort_ms(p, x)),
                ("OpenCV DNN", "opencv", lambda p: opencv_ms(p, x)),
                ("OpenVINO", "openvino", lambda p: openvino_ms(p, x)),
                ("ncnn", "ncnn", None),
            ]:
                def timed(path):
                    try:
                        if measure is None:
                            work = Path(tmp) / f"ncnn-{path.stem}"
                            work.mkdir(exist_ok=True)
                            return ncnn_ms(path, size, work)
                        return measure(path)
                    except Exception:
                        return None
                same = paths[target].read_bytes() == paths["generic"].read_bytes()
                generic = timed(paths["generic"])
                profile = generic if same else timed(paths[target])
                rows.append((f"{name} @{size}", runtime, target + (" (the generic file)" if same else ""), generic, profile))
                print(rows[-1], flush=True)
    lines = ["## Runtime profiles", "",
             f"Made by `tools/bench_targets.py` (rerun it to refresh this section). One run, one machine: {platform.machine()}, "
             f"{os.cpu_count()} cores, onnxruntime {ort.__version__}, OpenCV {cv2.__version__}, OpenVINO {ov.get_version().split('-')[0]}, "
             "ncnn 20261020 through pnnx 20261020. Each profile's file against the generic export of the same model, in the same "
             "runtime: median of 10 runs after 2 warm-ups, 2 threads, 1x3xHxW. TensorRT does not run here; its profile's file "
             "(symbolic batch, no shape arithmetic) is timed in onnxruntime. Where a profile changes nothing for a model, its file "
             "is byte for byte the generic one and is timed once.", "",
             "| model | runtime | profile | generic (ms) | profile (ms) | profile / generic |", "| --- | --- | --- | ---: | ---: | ---: |"]
    for model, runtime, target, generic, profile in rows:
        g = "fails" if generic is None else f"{generic:.1f}"
        p = "fails" if profile is None else f"{profile:.1f}"
        ratio = f"{profile / generic:.2f}x" if generic and profile else "n/a"
        lines.append(f"| {model} | {runtime} | {target} | {g} | {p} | {ratio} |")
    lines += ["", "libonnx (by hand, README \"--target: runtime profiles\"): the generic files do not load (Resize, Split, Slice and Pad have no "
              "kernel there); the libonnx profile's files run, single-threaded naive C, at the latencies listed in the README.",
              "", "The tensorrt profile's file differs from the generic one only in its symbolic batch (our graphs hold no shape "
              "arithmetic at `--dynamic batch`); its ratios here are this machine's run-to-run spread on 2 shared cores, which "
              "is of the same size for one file timed twice."]
    section = "\n".join(lines) + "\n"
    doc = (ROOT / "BENCHMARKS.md").read_text()
    if "## Runtime profiles" in doc:
        doc = re.sub(r"## Runtime profiles\n.*?(?=\n## |\Z)", section.rstrip("\n") + "\n", doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + section
    (ROOT / "BENCHMARKS.md").write_text(doc)


if __name__ == "__main__":
    sys.exit(main())
