"""Seed backbones I (EfficientViT M0-M5, MobileViT) through the onnx checker and onnxruntime, against
our interpreter and PyTorch's output for the EfficientViT fixture."""
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from test_peers import ROOT, cli, ort_session

FIXTURE = ROOT / "Tests/YoloCompileTests/Fixtures/yolov5-efficientvit"
EFFICIENTVIT = ["yolov5-efficientvit"] + [f"yolov5-efficientvit-m{i}" for i in range(1, 6)]


def export_check_and_compare(cfg, tmp_path, size, nc, *extra):
    """Exports at `size`, runs the checker, and compares onnxruntime with our interpreter (1e-4 relative)."""
    model = tmp_path / "m.onnx"
    cli("export", cfg, "-o", model, "--imgsz", *size, *extra)
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    x = np.random.default_rng(0).random((1, 3, *size), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = ort_session(model).run(None, {"images": x})[0]
    boxes = sum(3 * (size[0] // s) * (size[1] // s) for s in (8, 16, 32))
    assert expected.shape == (1, boxes, nc + 5)
    cli("run", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    rel = np.abs(np.load(tmp_path / "y.npy") - expected).max() / np.abs(expected).max()
    assert rel < 1e-4, f"{cfg.name}: relative error {rel}"
    return m


@pytest.mark.parametrize("name", EFFICIENTVIT)
def test_efficientvit_exports_at_640_pass_checker_onnxruntime_and_verify(name, tmp_path):
    cfg = ROOT / "samples" / f"{name}.yaml"
    m = export_check_and_compare(cfg, tmp_path, (640, 640), 80)
    ops = Counter(n.op_type for n in m.graph.node)
    # A clean static graph: no shape plumbing, the bias tables gathered into constants.
    assert ops["Shape"] == 0 and ops["Gather"] == 0 and ops["BatchNormalization"] == 0
    assert len(m.graph.node) < 1000, len(m.graph.node)
    r = cli("verify", cfg)
    assert "verify: ok" in r.stdout and "output0 [1, 25200, 85]" in r.stdout


def test_efficientvit_m0_graph_size_at_640(tmp_path):
    """torch.onnx.export writes about 2,600 nodes for this config; ours is a static graph of 689."""
    model = tmp_path / "m.onnx"
    cli("export", ROOT / "samples/yolov5-efficientvit.yaml", "-o", model)
    ops = Counter(n.op_type for n in onnx.load(str(model)).graph.node)
    assert sum(ops.values()) == 689
    assert ops["MatMul"] == 2 * 4 * 6 and ops["Softmax"] == 4 * 6 and ops["Pad"] == 6 and ops["Conv"] == 145


@pytest.mark.parametrize("weights", ["weights.safetensors", "state_dict.pt"])
def test_efficientvit_fixture_matches_pytorch(weights, tmp_path):
    """PyTorch's eval-mode output for the fixture's weights and input at 320, to 1e-3 max abs."""
    model = tmp_path / "evit.onnx"
    r = cli("export", ROOT / "samples/yolov5-efficientvit.yaml", "--weights", FIXTURE / weights, "--imgsz", 320, "-o", model)
    assert "unused" not in r.stdout + r.stderr
    x = np.load(FIXTURE / "input.npy")
    reference = np.load(FIXTURE / "output.npy")
    cli("run", model, "--input", FIXTURE / "input.npy", "-o", tmp_path / "y.npy")
    ours = np.load(tmp_path / "y.npy")
    assert ours.shape == reference.shape == (1, 6300, 85)
    # Measured 9.2e-5 for both (outputs up to ~400).
    assert np.abs(ours - reference).max() < 2e-4
    peer = ort_session(model).run(None, {"images": x})[0]
    assert np.abs(peer - reference).max() < 2e-4


@pytest.mark.parametrize("opset", [12, 16, 17, 18, 21])
def test_efficientvit_every_opset_runs_in_onnxruntime(opset, tmp_path):
    model = tmp_path / "m.onnx"
    cli("export", ROOT / "samples/yolov5-efficientvit.yaml", "--weights", FIXTURE / "weights.safetensors",
        "--imgsz", 320, "--opset", opset, "-o", model)
    onnx.checker.check_model(onnx.load(str(model)), full_check=True)
    peer = ort_session(model).run(None, {"images": np.load(FIXTURE / "input.npy")})[0]
    assert np.abs(peer - np.load(FIXTURE / "output.npy")).max() < 5e-4


@pytest.mark.parametrize("size", [576, 768])
def test_mobilevit_exports_pass_checker_onnxruntime_and_verify(size, tmp_path):
    cfg = ROOT / "samples/yolov5-mobilevit.yaml"
    m = export_check_and_compare(cfg, tmp_path, (size, size), 10)
    assert Counter(n.op_type for n in m.graph.node)["LayerNormalization"] == 2 * 2 * 3
    r = cli("verify", cfg, "--imgsz", size)
    assert "verify: ok" in r.stdout


def test_mobilevit_below_opset_17_writes_layer_norm_as_primitives(tmp_path):
    cfg = ROOT / "samples/yolov5-mobilevit.yaml"
    m = export_check_and_compare(cfg, tmp_path, (576, 576), 10, "--opset", 16)
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops["LayerNormalization"] == 0 and ops["ReduceMean"] == 2 * 12 and ops["Sqrt"] == 12


def test_mobilevit_at_640_fails_before_export(tmp_path):
    model = tmp_path / "m.onnx"
    r = cli("export", ROOT / "samples/yolov5-mobilevit.yaml", "-o", model, check=False)
    assert r.returncode == 1 and not model.exists()
    assert r.stderr.strip().endswith(
        "yolov5-mobilevit.yaml:30: layer 9: MobileViTAttention: the 20x20 feature map does not divide into 3x3 patches "
        "at image size 640x640; image sizes that work for this config are multiples of 192 (576, 768, ...)")
