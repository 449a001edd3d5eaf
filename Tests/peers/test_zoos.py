"""The model zoos through real peers: Ultralytics' YOLOv8 and YOLO11 samples (every task) and YOLOv5 v7.0's
torch.nn-layer config in the onnx checker and onnxruntime; Ultralytics checkpoints (made by
tools/ultralytics_fixtures.py with PyTorch and ultralytics 8.4) against what PyTorch computed; the torch.nn
layers against numpy re-implementations of PyTorch's formulas."""
import ast
import json

import numpy as np
import onnx
import pytest

from test_peers import ROOT, cli, ort_session

UFX = ROOT / "Tests/YoloCompileTests/Fixtures/ultralytics"

# (sample name as Ultralytics resolves it, image size, output shapes)
ULTRALYTICS_SAMPLES = [
    ("yolov8n", 320, [(1, 84, 2100)]), ("yolov8s", 320, [(1, 84, 2100)]),
    ("yolo11n", 320, [(1, 84, 2100)]), ("yolo11s", 320, [(1, 84, 2100)]),
    ("yolo11n-seg", 320, [(1, 116, 2100), (1, 32, 80, 80)]), ("yolo11n-pose", 320, [(1, 135, 2100)]),
    ("yolo11n-obb", 320, [(1, 85, 2100)]), ("yolo11n-cls", 224, [(1, 1000)]),
]


def rel_error(ours, expected):
    return np.abs(ours - expected).max() / np.abs(expected).max()


@pytest.mark.parametrize("name,size,shapes", ULTRALYTICS_SAMPLES)
def test_ultralytics_sample_passes_checker_and_matches_onnxruntime(name, size, shapes, tmp_path):
    model = tmp_path / f"{name}.onnx"
    cli("export", ROOT / "samples" / f"{name}.yaml", "-o", model, "--imgsz", size)
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    assert [o.name for o in m.graph.output] == [f"output{i}" for i in range(len(shapes))]
    # Metadata as Ultralytics' exporter writes it, so its AutoBackend reads our file as its own.
    meta = {p.key: p.value for p in m.metadata_props}
    task = {"seg": "segment", "pose": "pose", "obb": "obb", "cls": "classify"}.get(name.split("-")[-1], "detect")
    assert list(meta) == ["description", "stride", "task", "batch", "imgsz", "names", "args", "channels"] + (["kpt_shape"] if task == "pose" else [])
    assert meta["description"] == f"Ultralytics {name.replace('yolo', 'YOLO')} model "
    assert (meta["task"], meta["stride"], meta["batch"], meta["imgsz"], meta["channels"]) == (task, "1" if task == "classify" else "32", "1", f"[{size}, {size}]", "3")
    assert ast.literal_eval(meta["names"])[0] == "0" and ast.literal_eval(meta["args"])["half"] is False
    if task == "pose":
        assert ast.literal_eval(meta["kpt_shape"]) == [17, 3]
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = ort_session(model).run(None, {"images": x})
    assert [e.shape for e in expected] == shapes
    cli("run", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    for i, e in enumerate(expected):
        ours = np.load(tmp_path / ("y.npy" if i == 0 else f"y.{i}.npy"))
        assert rel_error(ours, e) < 1e-4, f"{name} output{i}"


@pytest.mark.parametrize("name", ["yolov8", "yolo11", "yolo11-seg", "yolo11-pose", "yolo11-obb", "yolo11-cls"])
def test_ultralytics_checkpoint_matches_pytorch(name, tmp_path):
    """best.pt as Ultralytics training leaves it (pickled model in float16, its config inside); the reference
    is what PyTorch computed with that model widened to float32, as Ultralytics loads it."""
    fx = UFX / name
    model = tmp_path / "m.onnx"
    r = cli("export", fx / "checkpoint.pt", "-o", model, "--imgsz", "128")
    assert "(Ultralytics checkpoint," in r.stdout
    outputs = ort_session(model).run(None, {"images": np.load(fx / "input.npy")})
    references = [np.load(fx / "output.npy")] + ([np.load(fx / "output1.npy")] if (fx / "output1.npy").exists() else [])
    assert len(outputs) == len(references)
    for y, expected in zip(outputs, references):
        assert y.shape == expected.shape
        assert rel_error(y, expected) < 1e-4, name
    # Class scores are small next to pixel boxes: they are checked on their own.
    if name != "yolo11-cls":
        assert np.abs(outputs[0][:, 4:9] - references[0][:, 4:9]).max() < 1e-5
    about = json.loads((fx / "about.json").read_text())
    r = cli("summary", fx / "checkpoint.pt", "--imgsz", "128")
    assert f"{about['params']} parameters" in r.stdout


def test_yolov3_tiny_passes_checker_and_matches_onnxruntime(tmp_path):
    """YOLOv5 v7.0's hub/yolov3-tiny.yaml: nn.MaxPool2d and nn.ZeroPad2d as parse_model builds them."""
    model = tmp_path / "tiny.onnx"
    cli("export", ROOT / "Tests/YoloCompileTests/Fixtures/yolov5-v7.0/hub/yolov3-tiny.yaml", "-o", model, "--imgsz", "320")
    onnx.checker.check_model(onnx.load(str(model)), full_check=True)
    x = np.random.default_rng(1).random((1, 3, 320, 320), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = ort_session(model).run(None, {"images": x})[0]
    assert expected.shape == (1, 1500, 85)
    cli("run", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert rel_error(np.load(tmp_path / "y.npy"), expected) < 1e-4


# PyTorch's formulas, written out in numpy, for a layer applied to the image itself (the config's first row).

def pad_hw(x, top, bottom, left, right, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def pool_out(n, k, s, p, ceil):
    out = (n + 2 * p - k + ((s - 1) if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:  # the last window must start inside the input or its left padding
        out -= 1
    return out


def max_pool(x, k, s, p, ceil=False):
    oh, ow = pool_out(x.shape[2], k, s, p, ceil), pool_out(x.shape[3], k, s, p, ceil)
    xp = pad_hw(x, p, p + k, p, p + k, -np.inf)
    return np.stack([np.stack([xp[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3)) for j in range(ow)], -1)
                     for i in range(oh)], -2)


def avg_pool(x, k, s, p, ceil=False, count_include_pad=True):
    h, w = x.shape[2:]
    oh, ow = pool_out(h, k, s, p, ceil), pool_out(w, k, s, p, ceil)
    xp = pad_hw(x, p, p + k, p, p + k)
    out = np.zeros(x.shape[:2] + (oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s - p, j * s - p
            he, we = min(hs + k, h + p), min(ws + k, w + p)  # windows stop at the padded edge
            divisor = (he - hs) * (we - ws) if count_include_pad else (min(he, h) - max(hs, 0)) * (min(we, w) - max(ws, 0))
            out[:, :, i, j] = xp[:, :, hs + p:he + p, ws + p:we + p].sum(axis=(2, 3)) / divisor
    return out


def adaptive(x, oh, ow, reduce):
    h, w = x.shape[2:]
    rows = [(i * h // oh, -(-(i + 1) * h // oh)) for i in range(oh)]
    cols = [(j * w // ow, -(-(j + 1) * w // ow)) for j in range(ow)]
    return np.stack([np.stack([reduce(x[:, :, r0:r1, c0:c1], axis=(2, 3)) for c0, c1 in cols], -1) for r0, r1 in rows], -2)


LAYERS = [
    ("[-1, 1, nn.MaxPool2d, [3, 2, 1]]", lambda x: max_pool(x, 3, 2, 1)),
    ("[-1, 1, nn.MaxPool2d, [3, 2, 0, 1, False, True]]", lambda x: max_pool(x, 3, 2, 0, ceil=True)),
    ("[-1, 1, nn.AvgPool2d, [3, 2, 1]]", lambda x: avg_pool(x, 3, 2, 1)),
    ("[-1, 1, nn.AvgPool2d, [3, 2, 1, True, False]]", lambda x: avg_pool(x, 3, 2, 1, ceil=True, count_include_pad=False)),
    ("[-1, 1, nn.AdaptiveAvgPool2d, [[5, 3]]]", lambda x: adaptive(x, 5, 3, np.mean)),
    ("[-1, 1, nn.AdaptiveMaxPool2d, [[7, None]]]", lambda x: adaptive(x, 7, x.shape[3], np.max)),
    ("[-1, 1, nn.AdaptiveAvgPool2d, [4]]", lambda x: adaptive(x, 4, 4, np.mean)),
    ("[-1, 1, nn.ZeroPad2d, [[0, 1, 2, 3]]]", lambda x: pad_hw(x, 2, 3, 0, 1)),
    ("[-1, 1, nn.LeakyReLU, [0.2]]", lambda x: np.where(x > 0, x, 0.2 * x)),
    ("[-1, 1, nn.Flatten, []]", lambda x: x.reshape(1, -1)),
]


@pytest.mark.parametrize("row,reference", LAYERS, ids=[r for r, _ in LAYERS])
def test_torch_layer_matches_pytorchs_formula(row, reference, tmp_path):
    cfg = tmp_path / "layer.yaml"
    cfg.write_text(f"nc: 1\nanchors: 1\nbackbone:\n  [{row}]\nhead: []\n")
    model = tmp_path / "layer.onnx"
    cli("export", cfg, "-o", model, "--imgsz", "20", "17")
    x = np.random.default_rng(2).standard_normal((1, 3, 20, 17)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    cli("run", model, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    ours, expected = np.load(tmp_path / "y.npy"), reference(x.astype(np.float64))
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 1e-5
    assert np.abs(ort_session(model).run(None, {"images": x})[0] - expected).max() < 1e-5


def test_ultralytics_summary_prints_its_layer_table():
    lines = cli("summary", ROOT / "samples/yolo11n.yaml").stdout.splitlines()
    assert lines[0] == "                   from  n    params  module                                       arguments"
    assert lines[3] == "  2                  -1  1      6640  ultralytics.nn.modules.block.C3k2            [32, 64, 1, False, 0.25]"
    assert lines[11] == " 10                  -1  1    249728  ultralytics.nn.modules.block.C2PSA           [256, 256, 1]"
    assert lines[12] == " 11                  -1  1         0  torch.nn.modules.upsampling.Upsample         [None, 2, 'nearest']"
    assert "YOLO11n summary: 2,624,080 parameters, 2,624,064 gradients, 6.5 GFLOPs at 640x640" in lines
