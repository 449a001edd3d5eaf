"""`export --dynamic` and `--dynamic batch`: the official checker passes, and onnxruntime runs the one dynamic
file at three image sizes and two batch sizes with the same results as static exports of the same weights
made at each of those sizes (1e-5 relative: the same operators on the same constants)."""
import numpy as np
import onnx
import pytest

from test_peers import ROOT, cli, ort_session

# Every sample family: YOLOv5 (anchor grid), Segment (two outputs), the seed backbones, Ultralytics' heads.
SAMPLES = ["yolov5n", "yolov5s-seg", "yolov5s-decoupled", "yolov5-mobilenetv3", "yolov5-convnext", "yolov5-efficientvit",
           "yolov5-mobilevit", "yolov8n", "yolo11n-seg", "yolo11n-pose", "yolo11n-obb", "yolo11n-cls"]


def sizes_of(name):
    """(export size, three (height, width) sizes to run at): multiples of the size quantum the export reports."""
    if name == "yolov5-efficientvit":  # 7x7 windows at stride 32
        return 448, [(224, 224), (448, 224), (224, 672)]
    if name == "yolov5-mobilevit":  # 3x3 patches at stride 64: multiples of 192
        return 576, [(192, 192), (384, 192), (192, 576)]
    return 320, [(256, 256), (320, 416), (384, 192)]


def static_outputs(name, tmp, size, batch, x):
    path = tmp / f"static-{size[0]}x{size[1]}-{batch}.onnx"
    cli("export", ROOT / "samples" / f"{name}.yaml", "-o", path, "--imgsz", *size, "--batch", batch)
    return ort_session(path).run(None, {"images": x})


def close(ours, expected, what):
    assert len(ours) == len(expected), what
    for i, (y, e) in enumerate(zip(ours, expected)):
        assert y.shape == e.shape, f"{what} output{i}: {y.shape} against {e.shape}"
        rel = np.abs(y - e).max() / np.abs(e).max()
        assert rel < 1e-5, f"{what} output{i}: relative error {rel}"


@pytest.mark.parametrize("name", SAMPLES)
def test_dynamic_export_matches_static_exports(name, tmp_path):
    base, sizes = sizes_of(name)
    model = tmp_path / "dynamic.onnx"
    cli("export", ROOT / "samples" / f"{name}.yaml", "-o", model, "--imgsz", base, "--dynamic")
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input]
    assert dims == [["batch", 3, "height", "width"]]
    out0 = [d.dim_param or d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
    assert out0[0] == "batch"
    if not name.endswith("cls"):
        assert "anchors" in out0
    session = ort_session(model)
    rng = np.random.default_rng(1)
    for size in sizes:
        for batch in (1, 2):
            x = rng.random((batch, 3, *size), dtype=np.float32)
            close(session.run(None, {"images": x}), static_outputs(name, tmp_path, size, batch, x),
                  f"{name} at batch {batch}, {size[0]}x{size[1]}")


@pytest.mark.parametrize("name", ["yolov5s", "yolov5-efficientvit", "yolov5-mobilevit", "yolo11n-seg"])
def test_dynamic_batch_has_no_shape_arithmetic(name, tmp_path):
    """--dynamic batch writes Reshapes with 0 and -1 and no Shape node: what TensorRT engines want."""
    size = 576 if name == "yolov5-mobilevit" else 320
    model = tmp_path / "batch.onnx"
    cli("export", ROOT / "samples" / f"{name}.yaml", "-o", model, "--imgsz", size, "--dynamic", "batch")
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    assert not [n.op_type for n in m.graph.node if n.op_type in ("Shape", "Range", "Gather")]
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, size, size]
    session = ort_session(model)
    for batch in (1, 3):
        x = np.random.default_rng(batch).random((batch, 3, size, size), dtype=np.float32)
        close(session.run(None, {"images": x}), static_outputs(name, tmp_path, (size, size), batch, x), f"{name} at batch {batch}")


def test_dynamic_refusals_are_one_line(tmp_path):
    """A size the graph is not the same at is refused with the sizes that work, and nothing is written."""
    out = tmp_path / "m.onnx"
    r = cli("export", ROOT / "samples/yolov5-efficientvit.yaml", "-o", out, "--dynamic", check=False)
    assert r.returncode != 0 and not out.exists()
    assert r.stderr == (
        "error: samples/yolov5-efficientvit.yaml: --dynamic: the graph is the same at every size only for heights that "
        "are multiples of 224 and widths that are multiples of 224 (model.0.blocks1.0.mixer.m LocalWindowAttention pads "
        "its 80x80 feature map to whole 7x7 windows, by an amount that depends on the image size), and 640x640 is not; "
        "export at such a size (--imgsz 448 448) or with --dynamic batch\n").replace("samples/", str(ROOT / "samples") + "/")
    r = cli("export", ROOT / "samples/yolov5s.yaml", "-o", out, "--dynamic", "height", check=False)
    assert r.returncode != 0 and not out.exists()


def test_dynamic_half_runs_at_two_sizes(tmp_path):
    """--dynamic --half: the grids' Range indices are cast to float16 like everything else."""
    model = tmp_path / "half.onnx"
    cli("export", ROOT / "samples/yolov5n.yaml", "-o", model, "--imgsz", 320, "--dynamic", "--half")
    onnx.checker.check_model(onnx.load(str(model)), full_check=True)
    session = ort_session(model)
    for size, batch in [((256, 320), 2), ((320, 320), 1)]:
        x = np.random.default_rng(batch).random((batch, 3, *size), dtype=np.float32)
        y = session.run(None, {"images": x.astype(np.float16)})[0].astype(np.float32)
        e = static_outputs("yolov5n", tmp_path, size, batch, x)[0]
        assert y.shape == e.shape and np.abs(y - e).max() / np.abs(e).max() < 1e-2  # float16 weights and arithmetic
    r = cli("export", ROOT / "samples/yolov5n.yaml", "-o", tmp_path / "n.onnx", "--nms", "--half", check=False)
    assert r.returncode != 0 and "--nms cannot be written with --half" in r.stderr
