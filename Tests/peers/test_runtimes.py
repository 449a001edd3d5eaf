"""Our ONNX in the runtimes users deploy with, beyond onnxruntime: OpenCV DNN (opencv-python-headless) and OpenVINO
(CPU, f32 precision hint: some CPUs default to bf16), on every sample, each output within 1e-4 relative of
onnxruntime's on the same file."""
import cv2
import numpy as np
import openvino as ov
import pytest

from test_peers import ROOT, cli, ort_session

# Every sample file, and the Ultralytics scales the README names; MobileViT's patches need 576.
SAMPLES = sorted(p.stem for p in (ROOT / "samples").glob("*.yaml")) + [
    "yolov8n", "yolov8s", "yolo11n", "yolo11s", "yolo11n-seg", "yolo11n-pose", "yolo11n-obb", "yolo11n-cls"]


def size_of(name):
    return 576 if name == "yolov5-mobilevit" else 224 if name.endswith("cls") else 320


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each sample exported once, with its input and onnxruntime's outputs."""
    cache = {}

    def get(name):
        if name not in cache:
            d = tmp_path_factory.mktemp(name)
            size = size_of(name)
            cli("export", ROOT / "samples" / f"{name}.yaml", "-o", d / "m.onnx", "--imgsz", size)
            x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
            cache[name] = (d / "m.onnx", x, ort_session(d / "m.onnx").run(None, {"images": x}))
        return cache[name]
    return get


def check(outputs, expected, runtime, name):
    assert len(outputs) == len(expected), f"{runtime} {name}: {len(outputs)} outputs"
    for i, (y, e) in enumerate(zip(outputs, expected)):
        y = np.asarray(y).reshape(e.shape)
        rel = np.abs(y - e).max() / np.abs(e).max()
        assert rel < 1e-4, f"{runtime} {name} output{i}: relative error {rel}"


@pytest.mark.parametrize("name", SAMPLES)
def test_opencv_dnn_matches_onnxruntime(name, exported):
    model, x, expected = exported(name)
    net = cv2.dnn.readNetFromONNX(str(model))
    net.setInput(x)
    outputs = net.forward(net.getUnconnectedOutLayersNames()) if len(expected) > 1 else [net.forward()]
    check(outputs, expected, "OpenCV DNN", name)


@pytest.mark.parametrize("name", SAMPLES)
def test_openvino_matches_onnxruntime(name, exported):
    model, x, expected = exported(name)
    compiled = ov.Core().compile_model(str(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled([x])
    check([result[o] for o in compiled.outputs], expected, "OpenVINO", name)
