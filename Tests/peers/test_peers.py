"""yolo-compile's ONNX through real peers (the official onnx checker, onnxruntime), and the CLI's
behaviour on bad input. Run by tools/test.sh with YOLO_COMPILE pointing at the release binary."""
import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("YOLO_COMPILE", str(ROOT / ".build/release/yolo-compile"))
SAMPLES = ["yolov5n", "yolov5s", "yolov5m", "yolov5l", "yolov5x"]


def cli(*args, check=True):
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"yolo-compile {' '.join(map(str, args))} failed: {r.stderr}")
    return r


def ort_session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_passes_checker_and_matches_onnxruntime(name, tmp_path):
    model = tmp_path / f"{name}.onnx"
    cli("export", ROOT / "samples" / f"{name}.yaml", "-o", model)
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version == 17 and m.ir_version == 8
    assert {p.key: p.value for p in m.metadata_props}["stride"] == "32"
    assert [i.name for i in m.graph.input] == ["images"] and [o.name for o in m.graph.output] == ["output0"]
    x = np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = ort_session(model).run(None, {"images": x})[0]
    assert expected.shape == (1, 25200, 85)
    cli("run", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    ours = np.load(tmp_path / "y.npy")
    rel = np.abs(ours - expected).max() / np.abs(expected).max()
    assert rel < 1e-4, f"{name}: relative error {rel}"


@pytest.mark.parametrize("name", SAMPLES)
def test_verify_passes(name):
    r = cli("verify", ROOT / "samples" / f"{name}.yaml")
    assert "verify: ok" in r.stdout and "output0 [1, 25200, 85]" in r.stdout


def test_legacy_blocks_pass_checker_and_match_onnxruntime(tmp_path):
    """Focus, BottleneckCSP (standalone BN), SPP, bare nn.BatchNorm2d, anchor-count Detect."""
    cfg = ROOT / "Tests/YoloCompileTests/Fixtures/legacy-modules.yaml"
    for opset in (12, 17):
        model = tmp_path / f"legacy{opset}.onnx"
        cli("export", cfg, "-o", model, "--imgsz", "128", "--opset", opset)
        m = onnx.load(str(model))
        onnx.checker.check_model(m, full_check=True)
        ops = {n.op_type for n in m.graph.node}
        assert "BatchNormalization" not in ops and "Slice" in ops
        x = np.random.default_rng(2).random((1, 3, 128, 128), dtype=np.float32)
        np.save(tmp_path / "x.npy", x)
        expected = ort_session(model).run(None, {"images": x})[0]
        assert expected.shape == (1, 64 * 64 + 32 * 32, 7)
        cli("run", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
        assert np.abs(np.load(tmp_path / "y.npy") - expected).max() / np.abs(expected).max() < 1e-4
    assert "verify: ok" in cli("verify", cfg, "--imgsz", "128").stdout


@pytest.mark.parametrize("opset", [12, 13, 14, 15, 16, 17, 18, 19, 20, 21])
def test_every_opset_passes_checker_and_runs(opset, tmp_path):
    model = tmp_path / "n.onnx"
    cli("export", ROOT / "samples/yolov5n.yaml", "-o", model, "--imgsz", "320", "--opset", opset)
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    assert m.ir_version == onnx.helper.find_min_ir_version_for([m.opset_import[0]])
    y = ort_session(model).run(None, {"images": np.zeros((1, 3, 320, 320), np.float32)})[0]
    assert y.shape == (1, 6300, 85)


def test_unfused_export_keeps_batchnorm_and_agrees(tmp_path):
    fused, unfused = tmp_path / "f.onnx", tmp_path / "u.onnx"
    cli("export", ROOT / "samples/yolov5n.yaml", "-o", fused, "--imgsz", "320")
    cli("export", ROOT / "samples/yolov5n.yaml", "-o", unfused, "--imgsz", "320", "--no-fuse")
    ops = [n.op_type for n in onnx.load(str(unfused)).graph.node]
    assert ops.count("BatchNormalization") == 57
    x = np.random.default_rng(1).random((1, 3, 320, 320), dtype=np.float32)
    a = ort_session(fused).run(None, {"images": x})[0]
    b = ort_session(unfused).run(None, {"images": x})[0]
    assert np.abs(a - b).max() / np.abs(b).max() < 1e-5


def test_rectangular_and_batched_export(tmp_path):
    model = tmp_path / "r.onnx"
    cli("export", ROOT / "samples/yolov5n.yaml", "-o", model, "--imgsz", "384", "640", "--batch", "2")
    y = ort_session(model).run(None, {"images": np.zeros((2, 3, 384, 640), np.float32)})[0]
    assert y.shape == (2, 3 * (48 * 80 + 24 * 40 + 12 * 20), 85)


def test_torch_export_runs_and_matches_pytorch(tmp_path):
    fx = ROOT / "Tests/YoloCompileTests/Fixtures/yolov5n"
    cli("run", fx / "torch-export-opset17.onnx", "--input", fx / "input.npy", "-o", tmp_path / "y.npy")
    assert np.abs(np.load(tmp_path / "y.npy") - np.load(fx / "output.npy")).max() < 1e-3


BAD_CONFIGS = {
    "unknown-module": ("nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv9, [16]]]\nhead: []\n",
                       "bad.yaml:4: layer 0: unknown module 'Conv9'"),
    "from-forward": ("nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [16]],\n   [[-1, 5], 1, Concat, [1]]]\nhead: []\n",
                     "bad.yaml:5: layer 1: 'from' 5 points forward: layer 1 can only read earlier layers"),
    "malformed": ("nc: 1\nanchors: [[1, 2]\n", "bad.yaml:3: malformed YAML"),
    "missing-nc": ("anchors: 1\nbackbone: []\nhead: []\n", "bad.yaml: missing 'nc' (the number of classes)"),
    "arg-count": ("nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, SPPF, [16, 5, 3]]]\nhead: []\n",
                  "bad.yaml:4: layer 0: SPPF takes at most 2 args [c2, k], got 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_one_line_nonzero_exit_no_output(case, tmp_path):
    text, expected = BAD_CONFIGS[case]
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    out = tmp_path / "out.onnx"
    r = cli("export", cfg, "-o", out, check=False)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + str(tmp_path) + "/" + expected), r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [cfg]


def test_bad_paths_and_files(tmp_path):
    r = cli("export", tmp_path / "missing.yaml", "-o", tmp_path / "o.onnx", check=False)
    assert r.returncode == 1 and r.stderr == f"error: {tmp_path}/missing.yaml: no such file\n"
    r = cli("export", tmp_path, "-o", tmp_path / "o.onnx", check=False)
    assert r.returncode == 1 and r.stderr == f"error: {tmp_path}: is a directory, expected a model YAML file\n"
    good = tmp_path / "n.onnx"
    cli("export", ROOT / "samples/yolov5n.yaml", "-o", good, "--imgsz", "64")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    r = cli("inspect", cut, check=False)
    assert r.returncode == 1
    assert r.stderr == f"error: {cut}: is not an ONNX model (the protobuf does not parse: truncated or another format)\n"
    r = cli("run", ROOT / "samples/yolov5n.yaml", "--input", "x.npy", "-o", tmp_path / "y.npy", check=False)
    assert r.returncode == 1 and "is not an ONNX model" in r.stderr and not (tmp_path / "y.npy").exists()


def test_bad_cli_arguments():
    r = cli("export", ROOT / "samples/yolov5n.yaml", "-o", "x.onnx", "--opset", "11", check=False)
    assert r.returncode != 0 and "--opset must be between 12 and 21, got 11" in r.stderr
    r = cli("export", ROOT / "samples/yolov5n.yaml", "-o", "x.onnx", "--imgsz", "1", "2", "3", check=False)
    assert r.returncode != 0 and "--imgsz takes one or two numbers, got 3" in r.stderr
    assert not Path("x.onnx").exists()


def test_failed_write_leaves_no_file(tmp_path):
    r = cli("export", ROOT / "samples/yolov5n.yaml", "-o", tmp_path / "nodir" / "m.onnx", check=False)
    assert r.returncode == 1 and "folder" in r.stderr and "does not exist" in r.stderr
    assert list(tmp_path.iterdir()) == []
