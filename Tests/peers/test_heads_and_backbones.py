"""Seed backbones II and heads (MobileNetV3, ConvNeXt, DecoupledDetect, Segment) and YOLOv5's other
modules through the onnx checker, onnxruntime (1e-4 relative against our interpreter) and `verify`."""
from collections import Counter

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

from test_peers import ROOT, cli, ort_session

SAMPLES = ["yolov5-mobilenetv3", "yolov5-mobilenetv3-small", "yolov5-convnext", "yolov5s-decoupled", "yolov5s-seg"]


def export_and_compare(cfg, tmp_path, size=640, *extra):
    """Exports, runs the full checker, and compares every output of onnxruntime with our interpreter."""
    model = tmp_path / "m.onnx"
    cli("export", cfg, "-o", model, "--imgsz", size, *extra)
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = ort_session(model).run(None, {"images": x})
    cli("run", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    for i, e in enumerate(expected):
        ours = np.load(tmp_path / ("y.npy" if i == 0 else f"y.{i}.npy"))
        assert ours.shape == e.shape
        # Relative to each part's own scale: boxes are in pixels (hundreds), scores and mask terms near 1,
        # so one max over the whole output would hide score errors.
        parts = [(ours[..., :4], e[..., :4]), (ours[..., 4:], e[..., 4:])] if i == 0 else [(ours, e)]
        for a, b in parts:
            rel = np.abs(a - b).max() / np.abs(b).max()
            assert rel < 1e-4, f"{cfg}: output{i} relative error {rel}"
    return m, expected


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_exports_at_640_pass_checker_onnxruntime_and_verify(name, tmp_path):
    cfg = ROOT / "samples" / f"{name}.yaml"
    m, outputs = export_and_compare(cfg, tmp_path)
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops["BatchNormalization"] == 0 and ops["Shape"] == 0 and ops["Gather"] == 0
    nc = 80 + (32 if name.endswith("seg") else 0)
    assert outputs[0].shape == (1, 25200, nc + 5)
    if name.endswith("seg"):
        assert [o.name for o in m.graph.output] == ["output0", "output1"]
        assert outputs[1].shape == (1, 32, 160, 160)
        # YOLOv5's Segment passes the mask coefficients through raw; only boxes and scores go through sigmoid.
        scores, coefficients = outputs[0][..., 4:85], outputs[0][..., 85:]
        assert scores.min() >= 0 and scores.max() <= 1
        assert coefficients.min() < 0
    r = cli("verify", cfg)
    assert "verify: ok" in r.stdout and "output0 [1, 25200, " in r.stdout


def test_convnext_at_opset_17_uses_layer_normalization_where_it_fits(tmp_path):
    """The 18 blocks' channels_last LayerNorms are LayerNormalization nodes. The 4 channels_first ones
    (stem, downsamples) normalise over axis 1, which no LayerNormalization expresses without transposes:
    they are ReduceMean over axis 1, and the only Transposes are the blocks' permutes and Detect's."""
    model = tmp_path / "m.onnx"
    cli("export", ROOT / "samples/yolov5-convnext.yaml", "-o", model, "--imgsz", 320, "--opset", 17)
    ops = Counter(n.op_type for n in onnx.load(str(model)).graph.node)
    assert ops["LayerNormalization"] == 18
    assert ops["ReduceMean"] == 2 * 4 and ops["Sqrt"] == 4
    assert ops["Pow"] == 3  # Detect's (wh * 2) ** 2, one per level
    assert ops["Transpose"] == 2 * 18 + 3
    assert ops["Erf"] == 18 and ops["Gelu"] == 0


@pytest.mark.parametrize("opset,gelu,layernorm", [(16, 0, 0), (20, 18, 18)])
def test_convnext_gelu_and_layer_norm_by_opset(opset, gelu, layernorm, tmp_path):
    m, _ = export_and_compare(ROOT / "samples/yolov5-convnext.yaml", tmp_path, 320, "--opset", opset)
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops["Gelu"] == gelu and ops["LayerNormalization"] == layernorm
    assert ops["Erf"] == 18 - gelu
    # The constants the primitive forms add hold their values (they once were written as zeros, which
    # onnxruntime and our reader agreed on; only `verify`, against the unexported graph, can see that).
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    if gelu == 0:
        assert inits["/model.0/stages/0/0/act/Gelu/sqrt2"] == np.float32(2 ** 0.5)
        assert inits["/model.0/stages/0/0/norm/LayerNormalization/epsilon"] == np.float32(1e-6)
    r = cli("verify", ROOT / "samples/yolov5-convnext.yaml", "--imgsz", 320, "--opset", opset)
    assert "verify: ok" in r.stdout


ALL_MODULES = """
nc: 3
anchors: 1
backbone:
  [[-1, 1, Conv, [16, 3, 2]],
   [-1, 1, GhostConv, [32, 3, 2]],
   [-1, 2, C3Ghost, [32]],
   [-1, 1, GhostBottleneck, [64, 3, 2]],
   [-1, 1, GhostBottleneck, [64, 3, 1]],
   [-1, 1, CrossConv, [64, 3, 1, 1, 1.0, True]],
   [-1, 2, C3x, [64]],
   [-1, 1, MixConv2d, [96, [1, 3, 5], 2]],
   [-1, 1, MixConv2d, [96, [3, 5], 1, False]],
   [-1, 1, C3SPP, [128, [5, 9, 13]]],
   [-1, 1, Contract, [2]],
   [-1, 1, Conv, [128, 1, 1]],
   [-1, 2, C3TR, [128]],
   [-1, 1, BottleneckCSP, [128]],
  ]
head:
  [[-1, 1, nn.ConvTranspose2d, [64, 2, 2]],
   [-1, 1, DWConvTranspose2d, [64, 4, 2, 1, 0]],
   [-1, 1, Expand, [2]],
   [-1, 1, Conv, [32, 3, 2]],
   [[17, 9, 13], 1, Detect, [nc, anchors]],
  ]
"""


@pytest.mark.parametrize("opset", [12, 17])
def test_every_yolov5_module_in_one_model(opset, tmp_path):
    cfg = tmp_path / "all.yaml"
    cfg.write_text(ALL_MODULES)
    m, outputs = export_and_compare(cfg, tmp_path, 256, "--opset", opset)
    ops = Counter(n.op_type for n in m.graph.node)
    # Every BatchNorm folds into a conv, MixConv2d's and BottleneckCSP's after a Concat too.
    assert ops["BatchNormalization"] == 0 and ops["Mul"] > 0
    assert ops["ConvTranspose"] == 2 and ops["Softmax"] == 2
    assert outputs[0].shape == (1, 32 * 32 + 16 * 16 + 8 * 8, 8)  # anchors: 1 is one anchor per level
    r = cli("verify", cfg, "--imgsz", 256, "--opset", opset)
    assert "verify: ok" in r.stdout
