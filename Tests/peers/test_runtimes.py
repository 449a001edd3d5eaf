"""Our ONNX in the runtimes users deploy with, each sample exported with that runtime's profile (`--target`):
OpenCV DNN (opencv-python-headless), OpenVINO (CPU, f32 precision hint: some CPUs default to bf16) and ncnn (pnnx
converts, ncnn runs in float32; in .venv-ncnn), each output within 1e-4 relative of onnxruntime on the generic
export. TensorRT and libonnx do not run here: their profiles' files run in onnxruntime at 1e-5 of the generic file,
and the properties the runtimes need (no Shape arithmetic and a symbolic batch; only libonnx's operators and every
value typed) are asserted on the file."""
import contextlib
import shutil
import subprocess

import cv2
import numpy as np
import onnx
import openvino as ov
import pytest

from test_peers import ROOT, cli, ort_session

NCNN_PYTHON = ROOT / ".venv-ncnn/bin/python"

# Every sample file, and the Ultralytics scales the README names; MobileViT's patches need 576.
SAMPLES = sorted(p.stem for p in (ROOT / "samples").glob("*.yaml")) + [
    "yolov8n", "yolov8s", "yolo11n", "yolo11s", "yolo11n-seg", "yolo11n-pose", "yolo11n-obb", "yolo11n-cls"]
# The samples the libonnx profile is for: YOLOv5 and the seed backbones (Ultralytics' heads use ConvTranspose and
# Gather-free DFL that libonnx lacks; see README).
LIBONNX = ["yolov5n", "yolov5s", "yolov5-mobilenetv3", "yolov5-mobilenetv3-small", "yolov5-efficientvit", "yolov5-convnext",
           "yolov5-mobilevit", "yolov5s-decoupled"]


def size_of(name):
    return 576 if name == "yolov5-mobilevit" else 224 if name.endswith("cls") else 320


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Each sample's generic export, with its input and onnxruntime's outputs."""
    cache = {}

    def get(name):
        if name not in cache:
            d = tmp_path_factory.mktemp(name)
            size = size_of(name)
            cli("export", ROOT / "samples" / f"{name}.yaml", "-o", d / "m.onnx", "--imgsz", size)
            x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
            cache[name] = (d, x, ort_session(d / "m.onnx").run(None, {"images": x}))
        return cache[name]
    return get


@contextlib.contextmanager
def export(name, directory, target, *extra):
    """The sample exported for a target, deleted (with what pnnx writes beside it) once the test is done: a run of this
    file exports every sample for every runtime, gigabytes that pytest would otherwise keep for three runs."""
    path = directory / f"{target}.onnx"
    cli("export", ROOT / "samples" / f"{name}.yaml", "-o", path, "--imgsz", size_of(name), "--target", target, *extra)
    try:
        yield path
    finally:
        for leftover in [path, path.with_suffix(".pnnxsim.onnx")]:
            leftover.unlink(missing_ok=True)
        shutil.rmtree(directory / target, ignore_errors=True)


def check(outputs, expected, runtime, name, tolerance=1e-4):
    assert len(outputs) == len(expected), f"{runtime} {name}: {len(outputs)} outputs"
    for i, (y, e) in enumerate(zip(outputs, expected)):
        y = np.asarray(y).reshape(e.shape)
        rel = np.abs(y - e).max() / np.abs(e).max()
        assert rel < tolerance, f"{runtime} {name} output{i}: relative error {rel}"


@pytest.mark.parametrize("name", SAMPLES)
def test_opencv_dnn_profile(name, reference):
    d, x, expected = reference(name)
    with export(name, d, "opencv") as model:
        net = cv2.dnn.readNetFromONNX(str(model))
    net.setInput(x)
    outputs = net.forward(net.getUnconnectedOutLayersNames()) if len(expected) > 1 else [net.forward()]
    check(outputs, expected, "OpenCV DNN", name)


@pytest.mark.parametrize("name", SAMPLES)
def test_openvino_profile(name, reference):
    d, x, expected = reference(name)
    with export(name, d, "openvino") as model:
        compiled = ov.Core().compile_model(str(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled([x])
    check([result[o] for o in compiled.outputs], expected, "OpenVINO", name)


@pytest.mark.parametrize("name", SAMPLES)
def test_ncnn_profile(name, reference):
    d, x, expected = reference(name)
    np.save(d / "x.npy", x)
    with export(name, d, "ncnn") as model:
        r = subprocess.run([str(NCNN_PYTHON), str(ROOT / "Tests/peers/ncnn_runner.py"), str(model), str(d / "x.npy"), str(d / "ncnn")],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"ncnn {name}: {r.stderr.strip()[-500:]}"
        outputs = [np.load(d / "ncnn" / f"output{i}.npy") for i in range(len(expected))]
    check(outputs, expected, "ncnn", name)


@pytest.mark.parametrize("name", ["yolov5n", "yolov5-efficientvit", "yolov5s-seg", "yolo11n-pose"])
def test_tensorrt_profile_has_a_symbolic_batch_and_no_shape_arithmetic(name, reference):
    d, x, expected = reference(name)
    with export(name, d, "tensorrt") as model:
        m = onnx.load(str(model))
        onnx.checker.check_model(m, full_check=True)
        assert 13 <= m.opset_import[0].version <= 17
        assert [dim.dim_param or dim.dim_value for dim in m.graph.input[0].type.tensor_type.shape.dim][0] == "batch"
        assert not [n.op_type for n in m.graph.node if n.op_type in ("Shape", "Size")]
        session = ort_session(model)
        check(session.run(None, {"images": x}), expected, "TensorRT profile in onnxruntime", name, 1e-5)
        two = session.run(None, {"images": np.concatenate([x, x])})
        check([y[1:] for y in two], expected, "TensorRT profile at batch 2", name, 1e-5)


@pytest.mark.parametrize("name", LIBONNX)
def test_libonnx_profile_holds_only_its_operators(name, reference):
    d, x, expected = reference(name)
    with export(name, d, "libonnx") as model:
        m = onnx.load(str(model))
        onnx.checker.check_model(m, full_check=True)
        assert 13 <= m.opset_import[0].version <= 16
        assert not {n.op_type for n in m.graph.node} & {"Resize", "Split", "Slice", "Pad", "HardSwish", "LayerNormalization", "Gather"}
        typed = {v.name for v in m.graph.value_info} | {o.name for o in m.graph.output}
        assert all(o in typed for n in m.graph.node for o in n.output), f"{name}: a value without value_info"
        assert cli("inspect", model, "--target", "libonnx").returncode == 0
        check(ort_session(model).run(None, {"images": x}), expected, "libonnx profile in onnxruntime", name, 1e-5)


def test_inspect_target_names_what_does_not_fit(reference):
    d, _, _ = reference("yolov5-efficientvit")
    r = cli("inspect", d / "m.onnx", "--target", "ncnn", check=False)
    assert r.returncode == 1
    assert "target ncnn: does not fit ncnn 20261020 through pnnx 20261020, 36 problems:" in r.stdout
    assert "/model.0/blocks1/0/mixer/m/Reshape (Reshape): /model.0/blocks1/0/mixer/m/Reshape_output_0 has rank 6, above ncnn 20261020 through pnnx 20261020's 5" in r.stdout
    r = cli("inspect", d / "m.onnx", "--target", "libonnx", check=False)
    assert r.returncode == 1 and "libonnx (xboot e6129dab) has no Split" in r.stdout and "opset 17 is outside" in r.stdout
    assert cli("inspect", d / "m.onnx", "--target", "ort").stdout.strip().endswith("target ort: fits onnxruntime 1.2x (CPU)")


def test_export_refuses_what_a_target_cannot_take(tmp_path):
    r = cli("export", ROOT / "samples/yolov5n.yaml", "-o", tmp_path / "m.onnx", "--target", "tensorrt", "--dynamic", check=False)
    assert r.returncode == 1 and not (tmp_path / "m.onnx").exists()
    assert r.stderr.strip().endswith("--target tensorrt: TensorRT 8.6 to 10 (ONNX parser) takes only the batch dynamic; use --dynamic batch")
    r = cli("export", ROOT / "samples/yolo11n-seg.yaml", "-o", tmp_path / "m.onnx", "--target", "libonnx", check=False)
    assert r.returncode == 1 and not (tmp_path / "m.onnx").exists()
    assert "--target libonnx: /model.23/proto/upsample/ConvTranspose (ConvTranspose): libonnx (xboot e6129dab) has no ConvTranspose" in r.stderr


@pytest.mark.parametrize("target", ["ncnn", "libonnx", "tensorrt"])
def test_verify_checks_the_legalised_file(target):
    """verify --target: the legalised file, written and read back, against the unfused graph (TensorRT's at batch 1
    and 2: its profile makes the batch dynamic)."""
    r = cli("verify", ROOT / "samples/yolov5-mobilevit.yaml", "--imgsz", 576, "--target", target)
    assert r.stdout.strip().endswith("verify: ok (tolerance 0.0001)")
    assert r.stdout.count("output0 [") == (2 if target == "tensorrt" else 1)
