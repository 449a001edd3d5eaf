"""`export --nms`: end-to-end detection in onnxruntime against a NumPy NMS (written here from YOLOv5's
non_max_suppression) applied to the raw output0 of a plain export of the same weights. Counts and classes must be
equal, boxes, scores and extras within 1e-5 relative (the raw part of both graphs is the same). The fixtures' weights
are PyTorch-made (seeded random, BatchNorm randomised), so scores spread over many classes."""
import numpy as np
import onnx
import pytest

from test_peers import ROOT, cli, ort_session

FIXTURES = ROOT / "Tests/YoloCompileTests/Fixtures"


def reference_nms(raw, channels_first, objectness, nc, conf, iou, max_det, agnostic):
    """Per image: best class per candidate, score > conf, xywh -> xyxy, greedy NMS (IoU > iou suppresses) per class
    or over all, sorted by score, the first max_det. Returns (num, boxes, scores, classes, extras) per image."""
    if channels_first:
        raw = raw.transpose(0, 2, 1)
    out = []
    for y in raw:
        first = 5 if objectness else 4
        cls = y[:, first:first + nc] * (y[:, 4:5] if objectness else 1)
        score, label = cls.max(1), cls.argmax(1)
        half = y[:, 2:4] * np.float32(0.5)
        boxes = np.concatenate([y[:, :2] - half, y[:, :2] + half], 1)
        order = sorted(np.nonzero(score > conf)[0], key=lambda i: (-score[i], i))
        kept, by_class = [], {}
        for i in order:
            group = 0 if agnostic else label[i]
            others = by_class.setdefault(group, [])
            if len(others) >= max_det or any(iou_of(boxes[j], boxes[i]) > iou for j in others):
                continue
            others.append(i)
            kept.append(i)
        kept = sorted(kept, key=lambda i: (-score[i], i))[:max_det]
        out.append((len(kept), boxes[kept], score[kept], label[kept], y[kept, first + nc:]))
    return out


def iou_of(p, q):
    p, q = p.astype(np.float64), q.astype(np.float64)
    w = min(p[2], q[2]) - max(p[0], q[0])
    h = min(p[3], q[3]) - max(p[1], q[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter)


def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30) if a.size else 0.0


def check(nms_outputs, expected, extra_shape, what):
    num, boxes, scores, classes = nms_outputs[:4]
    k = boxes.shape[1]
    for b, (n, eb, es, ec, ex) in enumerate(expected):
        assert num[b, 0] == n, f"{what} image {b}: {num[b, 0]} detections, the reference {n}"
        assert (classes[b, :n] == ec).all(), f"{what} image {b}: classes differ"
        assert rel(boxes[b, :n], eb) < 1e-5 and rel(scores[b, :n], es) < 1e-5, f"{what} image {b}: boxes or scores differ"
        assert not boxes[b, n:].any() and not scores[b, n:].any() and not classes[b, n:].any(), f"{what}: padding is not zero"
        if extra_shape:
            extras = nms_outputs[4][b, :n].reshape(n, -1)
            assert rel(extras, ex) < 1e-5, f"{what} image {b}: extras differ"
            assert nms_outputs[4].shape[1:] == (k, *extra_shape)
    assert num.dtype == np.int32 and classes.dtype == np.int32


# (weights, image size, family, NMS arguments, expected extra shape per detection). The yolov5n fixture's random
# weights score at most 1.9e-4 (objectness x class), hence its threshold.
CASES = {
    "yolov5n": (FIXTURES / "yolov5n/checkpoint.pt", 320, "yolov5", ["--conf-thres", "0.00005"], None),
    "yolov5n-agnostic": (FIXTURES / "yolov5n/checkpoint.pt", 320, "yolov5", ["--conf-thres", "0.00005", "--agnostic-nms", "--max-det", "25"], None),
    "yolov8": (FIXTURES / "ultralytics/yolov8/checkpoint.pt", 128, "ultralytics", [], None),
    "yolo11-seg": (FIXTURES / "ultralytics/yolo11-seg/checkpoint.pt", 128, "ultralytics", ["--max-det", "40"], (32,)),
    "yolo11-pose": (FIXTURES / "ultralytics/yolo11-pose/checkpoint.pt", 128, "ultralytics", ["--iou-thres", "0.5"], (17, 3)),
}


def settings(family, args):
    conf, iou, max_det = (0.25, 0.45, 1000) if family == "yolov5" else (0.25, 0.7, 300)
    for flag, value in zip(args, args[1:] + [None]):
        if flag == "--conf-thres": conf = float(value)
        if flag == "--iou-thres": iou = float(value)
        if flag == "--max-det": max_det = int(value)
    return np.float32(conf), iou, max_det, "--agnostic-nms" in args


@pytest.mark.parametrize("case", sorted(CASES))
def test_nms_export_matches_reference_nms_on_raw_output(case, tmp_path):
    weights, size, family, args, extra = CASES[case]
    raw_model, nms_model = tmp_path / "raw.onnx", tmp_path / "nms.onnx"
    cli("export", weights, "-o", raw_model, "--imgsz", size, "--batch", 2)
    cli("export", weights, "-o", nms_model, "--imgsz", size, "--batch", 2, "--nms", *args)
    m = onnx.load(str(nms_model))
    onnx.checker.check_model(m, full_check=True)
    names = [o.name for o in m.graph.output]
    assert names[:4] == ["num_dets", "det_boxes", "det_scores", "det_classes"]
    x = np.random.default_rng(3).random((2, 3, size, size), dtype=np.float32)
    x[0] = np.load(weights.parent / "input.npy")[0]
    raw = ort_session(raw_model).run(None, {"images": x})
    out = ort_session(nms_model).run(None, {"images": x})
    conf, iou, max_det, agnostic = settings(family, args)
    nc = 80 if family == "yolov5" else 5
    expected = reference_nms(raw[0], family != "yolov5", family == "yolov5", nc, conf, iou, max_det, agnostic)
    assert all(n >= 10 for n, *_ in expected), f"{case}: too few detections to test ({[n for n, *_ in expected]})"
    if case == "yolov5n-agnostic":
        assert all(n == 25 for n, *_ in expected)
    check(out, expected, extra, case)
    if "seg" in case:  # the prototypes stay, after the detections
        assert names[4:] == ["det_coefficients", "output1"] and np.array_equal(out[5], raw[1])


def test_dynamic_nms_at_two_sizes_and_batches(tmp_path):
    weights = FIXTURES / "ultralytics/yolo11-seg/checkpoint.pt"
    model, raw_model = tmp_path / "nms.onnx", tmp_path / "raw.onnx"
    cli("export", weights, "-o", model, "--imgsz", 128, "--nms", "--dynamic")
    cli("export", weights, "-o", raw_model, "--imgsz", 128, "--dynamic")
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    boxes = [d.dim_param or d.dim_value for d in m.graph.output[1].type.tensor_type.shape.dim]
    assert boxes == ["batch", "detections", 4]
    nms, raw = ort_session(model), ort_session(raw_model)
    for size, batch in [((96, 160), 1), ((192, 128), 2), ((32, 32), 2)]:
        x = np.random.default_rng(batch).random((batch, 3, *size), dtype=np.float32)
        r = raw.run(None, {"images": x})
        expected = reference_nms(r[0], True, False, 5, np.float32(0.25), 0.7, 300, False)
        out = nms.run(None, {"images": x})
        assert out[1].shape[1] == min(300, r[0].shape[2])  # K: the candidates, when fewer
        check(out, expected, (32,), f"{size} batch {batch}")


@pytest.mark.parametrize("sample,message", [
    ("yolo11n-obb", "--nms: OBB's rotated boxes need a rotated-box NMS, which ONNX NonMaxSuppression (axis-aligned) cannot do; export without --nms and apply a rotated NMS to output0"),
    ("yolo11n-cls", "--nms: a classifier has no boxes to suppress"),
])
def test_nms_refusals(sample, message, tmp_path):
    out = tmp_path / "m.onnx"
    r = cli("export", ROOT / "samples" / f"{sample}.yaml", "-o", out, "--nms", check=False)
    assert r.returncode == 1 and not out.exists()
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and line.endswith(message)


def test_nms_settings_need_nms():
    r = cli("export", ROOT / "samples/yolov5n.yaml", "-o", "/tmp/never.onnx", "--max-det", "5", check=False)
    assert r.returncode != 0 and "add --nms" in r.stderr
