#!/usr/bin/env python3
"""Benchmarks yolo-compile and writes BENCHMARKS.md (all but its "Runtime profiles" section, which
tools/bench_targets.py owns). Rerun with: .venv/bin/python tools/bench.py

- whole-process time of `yolo-compile export` (median of 5 runs) for YOLOv5 n and s, the EfficientViT
  backbones M0 and M5 (seed 001), MobileViT (seed 000, at 576: 640 does not divide into its patches),
  MobileNetV3 large and small (seed 002), ConvNeXt-T stages (seed 003), yolov5s with the decoupled head
  (seed 004) and yolov5s-seg;
- interpreter latency on that file against onnxruntime on the same file, in the same run, 2 threads each
  (`bench --threads 2`; onnxruntime intra_op_num_threads=2), as a ratio, and the geometric mean of the ratios;
- peak memory of one `run` of that file (whole process: read, run, write the output) against a process that
  loads the file into onnxruntime and runs it once;
- time per operator family (`bench --profile`);
- `verify samples/yolov5s.yaml` at 640, whole process;
- `export best.pt` from YOLOv5-style float16 checkpoints (made by tools/make_checkpoint.py):
  whole-process time and peak resident memory against the checkpoint's size.

With YOLO_COMPILE_BEFORE set to another build of yolo-compile (an earlier commit: `git worktree add
/tmp/before <commit> && swift build -c release --package-path /tmp/before`), its interpreter is measured
in the same run, on the same files, as the "before" columns.
"""
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("YOLO_COMPILE", str(ROOT / ".build/release/yolo-compile"))
BEFORE = os.environ.get("YOLO_COMPILE_BEFORE")
REPEAT = 10
THREADS = 2
MODELS = [("yolov5n", 640), ("yolov5s", 640), ("yolov5-efficientvit", 640), ("yolov5-efficientvit-m5", 640),
          ("yolov5-mobilevit", 576), ("yolov5-mobilenetv3", 640), ("yolov5-mobilenetv3-small", 640),
          ("yolov5-convnext", 640), ("yolov5s-decoupled", 640), ("yolov5s-seg", 640)]
FAMILIES = [
    ("Conv", lambda op: op.startswith("Conv")),
    ("MatMul", lambda op: op.startswith("MatMul") or op in ("Gemm", "Einsum")),
    ("elementwise", lambda op: op in ("Sigmoid", "Mul", "Add", "Sub", "Div", "Pow", "HardSwish", "HardSigmoid", "Relu",
                                      "LeakyRelu", "Clip", "Erf", "Sqrt", "Tanh", "Exp", "Neg", "Gelu", "Where", "Cast")),
    ("normalization", lambda op: op in ("Softmax", "LayerNormalization", "ReduceMean", "BatchNormalization",
                                        "InstanceNormalization", "GroupNormalization", "ReduceSum", "ReduceMax")),
    ("pooling", lambda op: op.endswith("Pool")),
    ("data movement", lambda op: True),
]
# ru_maxrss of a child that reads, runs and writes: yolo-compile `run`, or the same in onnxruntime.
CHILD_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
ORT_RUN = ("import sys, numpy as np, onnxruntime as ort; o = ort.SessionOptions(); o.intra_op_num_threads = int(sys.argv[4]); "
           "o.inter_op_num_threads = 1; s = ort.InferenceSession(sys.argv[1], o, providers=['CPUExecutionProvider']); "
           "y = s.run(None, {s.get_inputs()[0].name: np.load(sys.argv[2])}); np.save(sys.argv[3], y[0])")


def family(op):
    return next(name for name, test in FAMILIES if test(op))


def bench(binary, model, env, new_cli):
    args = [binary, "bench", model, "--repeat", str(REPEAT)] + (["--threads", str(THREADS)] if new_cli else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout
    return float(re.search(r"median ([\d.]+) ms", out).group(1))


def profile(binary, model, env, new_cli):
    """Milliseconds per operator family, from one profiled run."""
    args = [binary, "bench", model, "--repeat", "1", "--warmup", "1", "--profile"] + (["--threads", str(THREADS)] if new_cli else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout
    times = defaultdict(float)
    for op, ms in re.findall(r"^(\S+)\s+([\d.]+) ms\s+[\d.]+%$", out, flags=re.M):
        times[family(op)] += float(ms)
    return times


def peak(args, env):
    out = subprocess.run([sys.executable, "-c", CHILD_PEAK] + [str(a) for a in args], check=True, capture_output=True,
                         text=True, env=env).stdout
    return int(out.split()[-1])


def main():
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(THREADS))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in MODELS:
            model = Path(tmp) / f"{name}.onnx"
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                subprocess.run([BIN, "export", ROOT / f"samples/{name}.yaml", "-o", model, "--imgsz", str(size)],
                               check=True, capture_output=True, env=env)
                times.append(time.perf_counter() - t0)
            export_s = statistics.median(times)
            ours_ms = bench(BIN, model, env, True)
            before_ms = bench(BEFORE, model, env, False) if BEFORE else None
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = THREADS
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
            x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
            for _ in range(2):
                sess.run(None, {"images": x})
            lat = []
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                sess.run(None, {"images": x})
                lat.append((time.perf_counter() - t0) * 1e3)
            ort_ms = statistics.median(lat)
            del sess
            image = Path(tmp) / "x.npy"
            np.save(image, x)
            ours_peak = peak([BIN, "run", model, "--input", image, "-o", Path(tmp) / "y.npy", "--threads", THREADS], env)
            ort_peak = peak([sys.executable, "-c", ORT_RUN, model, image, Path(tmp) / "z.npy", THREADS], env)
            prof = profile(BIN, model, env, True)
            prof_before = profile(BEFORE, model, env, False) if BEFORE else None
            rows.append(dict(name=name, size=size, export_s=export_s, ours=ours_ms, before=before_ms, ort=ort_ms,
                             ours_peak=ours_peak, ort_peak=ort_peak, prof=prof, prof_before=prof_before))
            model.unlink()
    verify_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([BIN, "verify", ROOT / "samples/yolov5s.yaml", "--threads", str(THREADS)], check=True, capture_output=True, env=env)
        verify_times.append(time.perf_counter() - t0)
    verify_s = statistics.median(verify_times)
    ckpt_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["yolov5s", "yolov5x"]:
            ckpt = Path(tmp) / f"{name}-best.pt"
            subprocess.run([sys.executable, ROOT / "tools/make_checkpoint.py", ROOT / f"samples/{name}.yaml", ckpt], check=True, capture_output=True)
            # Each measurement in a fresh child so ru_maxrss is that export's own peak.
            probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
                     "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
                     "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
            runs = []
            for _ in range(3):
                out = subprocess.run([sys.executable, "-c", probe, BIN, "export", ckpt, "-o", Path(tmp) / "o.onnx"],
                                     check=True, capture_output=True, text=True, env=env).stdout.split()
                runs.append((float(out[0]), int(out[1])))
            seconds = statistics.median(r[0] for r in runs)
            peak_bytes = max(r[1] for r in runs)
            ckpt_rows.append((name, ckpt.stat().st_size, seconds, peak_bytes))
    ratios = [r["ours"] / r["ort"] for r in rows]
    geomean = math.exp(sum(math.log(v) for v in ratios) / len(ratios))
    lines = [
        "# Benchmarks",
        "",
        "Made by `tools/bench.py` (rerun it to refresh this file; the \"Runtime profiles\" section is tools/bench_targets.py's). "
        f"One run, one machine: {platform.machine()}, {os.cpu_count()} cores, onnxruntime {ort.__version__}. "
        f"Latency is the median of {REPEAT} runs after 2 warm-ups on a 1x3xHxW input, {THREADS} threads each "
        f"(`bench --threads {THREADS}` for yolo-compile, intra-op threads for onnxruntime), on the same exported file."
        + (" \"Before\" is the interpreter as it was before issue 15 (commit b71a3ff, OpenBLAS's 2 threads), measured in the "
           "same run on the same files." if BEFORE else ""),
        "",
        "| model | `export` whole process (s) | " + ("interpreter before (ms) | " if BEFORE else "")
        + "interpreter (ms) | onnxruntime (ms) | ratio (ours / onnxruntime) | peak memory of `run` (MB) | onnxruntime's (MB) |",
        "| --- | ---: | " + ("---: | " if BEFORE else "") + "---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['name']} @{r['size']} | {r['export_s']:.2f} | " + (f"{r['before']:.1f} | " if BEFORE else "")
                     + f"{r['ours']:.1f} | {r['ort']:.1f} | {r['ours'] / r['ort']:.2f}x | {r['ours_peak'] / 1e6:.0f} | {r['ort_peak'] / 1e6:.0f} |")
    lines += ["", f"Geometric mean of the ratios: **{geomean:.2f}x**; largest: {max(ratios):.2f}x. "
              f"`yolo-compile verify samples/yolov5s.yaml` (640, unfused reference and exported file, both interpreted), "
              f"whole process: **{verify_s:.2f} s**.",
              "",
              "Peak memory is the whole process's largest resident set for one run of the file on one image: yolo-compile `run` "
              "(read the ONNX file and the .npy input, interpret, write the output) against a Python process that loads the same "
              "file into onnxruntime, runs it once and saves the output (the interpreter and its libraries included on both sides)."]
    lines += ["", "### Where the time goes", "",
              "`bench --profile`, one run, milliseconds per operator family"
              + (" (before -> after)" if BEFORE else "") + ". Conv includes the activations fused into it (a Conv followed by "
              "Sigmoid and Mul, Relu, LeakyRelu, HardSwish, HardSigmoid and Mul, or Clip runs as one kernel), and MatMul the bias Add "
              "and GELU (Div, Erf, Add, Mul, Mul) fused into it and attention's Softmax; before, those count as elementwise and "
              "normalization.", "",
              "| model | " + " | ".join(f for f, _ in FAMILIES) + " |",
              "| --- | " + " | ".join("---:" for _ in FAMILIES) + " |"]
    for r in rows:
        cells = []
        for f, _ in FAMILIES:
            now = r["prof"].get(f, 0.0)
            cells.append(f"{r['prof_before'].get(f, 0.0):.1f} -> {now:.1f}" if BEFORE else f"{now:.1f}")
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    lines += ["", "How: where the CPU has AVX-512, Conv is a direct kernel (no im2col): the input copied once into zero-padded "
              "stride phases, where each tap of an output row reads one contiguous run, and tiles of 8 output channels x 48 "
              "positions accumulated in registers from the weights as they lie, each output one chain of fused multiply-adds over its "
              "taps in order (so its bits do not depend on the split); depthwise Conv runs over the same phases, as the same "
              "chains in register blocks; 3x3 stride-1 Conv with 32 or more channels in and out runs Winograd F(2x2, 3x3), 16 "
              "products per 2x2 outputs where direct takes 36 (within 3.8e-7 of the direct kernel on every sample). The bias and "
              "any following activation are applied to each block while it is in cache (the activation's nodes and the Conv's "
              "own output never exist); a MatMul by one matrix for every batch entry is one product, with its bias and GELU "
              "in one output pass; MatMul -> Softmax -> MatMul (attention) is one kernel over blocks of query rows, so the "
              "scores never exist whole. The kernels split their own work across the threads on workers that spin briefly "
              "between kernels, each sweeping its own contiguous share of the tasks before taking another's last ones, and "
              "OpenBLAS runs one thread per call, with the kernels for the CPU's features (`bench` prints them). Arithmetic, "
              "pooling, transposes, softmax, erf and the output passes are C compiled for AVX-512, AVX2 with FMA and baseline "
              "x86-64 (picked at load time), computing what the plain kernels compute: the test suite compares each fast "
              "path against a plain one. Freed tensor memory stays in the heap for the next node, and Softmax and "
              "LayerNormalization write over their input at its last use."]
    lines += ["", "## Exporting from a YOLOv5 checkpoint", "",
              "`yolo-compile export best.pt -o best.onnx` on float16 checkpoints with YOLOv5's layout, made by "
              "`tools/make_checkpoint.py` (seeded weights; no PyTorch needed). Whole process, median of 3 runs; peak is "
              "the largest resident set. The float16 weights widen to float32 for compute, so 2x the file is the floor.", "",
              "| checkpoint | size (MB) | export time (s) | peak memory (MB) | peak / size |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for name, size, seconds, peak_bytes in ckpt_rows:
        lines.append(f"| {name} best.pt | {size / 1e6:.1f} | {seconds:.2f} | {peak_bytes / 1e6:.0f} | {peak_bytes / size:.1f}x |")
    text = "\n".join(lines) + "\n"
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text() if path.exists() else ""
    kept = re.search(r"\n## Runtime profiles\n.*?(?=\n## |\Z)", old, flags=re.S)
    path.write_text(text + (kept.group(0) if kept else ""))
    print(text)


if __name__ == "__main__":
    main()
