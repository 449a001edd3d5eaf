"""Trained weights through the CLI: the three forms against PyTorch's output in onnxruntime, and every
kind of bad weights file giving one line that names the file and tensor, exit 1, no output file.
The corrupted files are made here from the fixtures with the standard library (no PyTorch)."""
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from test_peers import ROOT, cli, ort_session

FX = ROOT / "Tests/YoloCompileTests/Fixtures/yolov5n"


@pytest.mark.parametrize("form", ["safetensors", "state_dict", "checkpoint"])
def test_three_forms_match_pytorch_in_onnxruntime(form, tmp_path):
    out = tmp_path / "m.onnx"
    if form == "checkpoint":
        cli("export", FX / "checkpoint.pt", "-o", out, "--imgsz", "320")
    else:
        w = FX / ("weights.safetensors" if form == "safetensors" else "state_dict.pt")
        cli("export", ROOT / "samples/yolov5n.yaml", "--weights", w, "-o", out, "--imgsz", "320")
    y = ort_session(out).run(None, {"images": np.load(FX / "input.npy")})[0]
    # The checkpoint stores the weights in float16 (YOLOv5's train.py saves .half()); its reference is what
    # that float16 model computes once widened to float32 (checkpoint_output.npy), as YOLOv5's attempt_load runs it.
    expected = np.load(FX / ("checkpoint_output.npy" if form == "checkpoint" else "output.npy"))
    assert np.abs(y - expected).max() < 5e-4


def rewrite_zip(src, dst, drop=(), replace=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if any(info.filename.endswith(d) for d in drop):
                continue
            data = zin.read(info.filename)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1](data)
            zout.writestr(info.filename, data)


def expect_error(tmp_path, args, expected):
    out = tmp_path / "out.onnx"
    r = cli("export", *args, "-o", out, "--imgsz", "64", check=False)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], r.stderr
    assert not out.exists()


def bad_state_dict(tmp_path, **kw):
    path = tmp_path / "bad.pt"
    rewrite_zip(FX / "state_dict.pt", path, **kw)
    return path


def test_truncated_zip(tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes((FX / "state_dict.pt").read_bytes()[:100_000])
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path], f"{path}: has no end of central directory record in its last 64 KiB (truncated?)")


def test_zip_without_data_pkl(tmp_path):
    path = bad_state_dict(tmp_path, drop=["data.pkl"])
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path],
                 f"{path}: is a zip without ARCHIVE/data.pkl, so not a torch.save checkpoint")


def test_unknown_opcode(tmp_path):
    path = bad_state_dict(tmp_path, replace=("data.pkl", lambda d: d[:2] + b"\xff" + d[2:]))
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path], f"{path}: pickle byte 2: unknown opcode 0xff")


def test_global_that_cannot_be_made_inert(tmp_path):
    path = bad_state_dict(tmp_path, replace=("data.pkl", lambda d: d.replace(b"collections\nOrderedDict\n", b"os\nsystem\n", 1)))
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path],
                 f"{path}: pickle byte 16: cannot make os.system inert: it is a function the reader does not know")


def test_missing_storage(tmp_path):
    path = bad_state_dict(tmp_path, drop=["/data/0"])
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path],
                 f"{path}: tensor model.0.conv.weight: storage state_dict/data/0 is missing from the archive")


def test_short_tensor_bytes(tmp_path):
    path = bad_state_dict(tmp_path, replace=("/data/0", lambda d: d[:100]))
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path],
                 f"{path}: tensor model.0.conv.weight: storage state_dict/data/0 holds 100 bytes, 1728 F32 elements need 6912")


def test_safetensors_header_that_lies(tmp_path):
    raw = (FX / "weights.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    b, e = header["model.0.bn.bias"]["data_offsets"]
    header["model.0.bn.bias"]["data_offsets"] = [b, e + 4]
    h = json.dumps(header).encode()
    path = tmp_path / "lie.safetensors"
    path.write_bytes(struct.pack("<Q", len(h)) + h + raw[8 + n:])
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path],
                 f"{path}: tensor model.0.bn.bias: shape [16] of F32 needs 64 bytes, data_offsets give 68")


def test_shape_mismatch(tmp_path):
    expect_error(tmp_path, [ROOT / "samples/yolov5s.yaml", "--weights", FX / "state_dict.pt"],
                 f"{FX / 'state_dict.pt'}: weights do not fit the model: 288 with the wrong shape (model.0.conv.weight is [16, 3, 6, 6] in the file, the model needs [32, 3, 6, 6]")


def test_legacy_format_is_refused_with_advice(tmp_path):
    path = tmp_path / "old.pt"
    path.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")
    expect_error(tmp_path, [ROOT / "samples/yolov5n.yaml", "--weights", path],
                 f"{path}: is a legacy (pre-1.6) torch.save file; resave it in PyTorch with torch.save(obj, path)")


@pytest.mark.parametrize("opset", [12, 13, 14])
def test_hardswish_activation_at_every_opset(opset, tmp_path):
    cfg = tmp_path / "hs.yaml"
    cfg.write_text((ROOT / "samples/yolov5n.yaml").read_text().replace("nc: 80", "nc: 80\nactivation: nn.Hardswish()"))
    out = tmp_path / "hs.onnx"
    cli("export", cfg, "-o", out, "--imgsz", "128", "--opset", opset)
    import onnx
    m = onnx.load(str(out))
    onnx.checker.check_model(m, full_check=True)
    assert ("HardSwish" in {n.op_type for n in m.graph.node}) == (opset >= 14)
    x = np.random.default_rng(3).random((1, 3, 128, 128), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = ort_session(out).run(None, {"images": x})[0]
    cli("run", out, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert np.abs(np.load(tmp_path / "y.npy") - expected).max() / np.abs(expected).max() < 1e-4


def test_half_export_is_a_float16_model(tmp_path):
    """export --half: FLOAT16 weights, input and output (Resize's scales stay float32, as ONNX requires)."""
    import onnx
    out = tmp_path / "half.onnx"
    cli("export", FX / "checkpoint.pt", "-o", out, "--imgsz", "320", "--half")
    m = onnx.load(str(out))
    onnx.checker.check_model(m, full_check=True)
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert m.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    kinds = {t.data_type for t in m.graph.initializer}
    assert onnx.TensorProto.FLOAT16 in kinds and onnx.TensorProto.FLOAT in kinds  # FLOAT: Resize scales only
    x = np.load(FX / "input.npy")
    expected = np.load(FX / "output.npy")
    y = ort_session(out).run(None, {"images": x.astype(np.float16)})[0].astype(np.float32)
    # float16 activations throughout: about 1e-3 relative per op; measured 3e-4 of the output range.
    assert np.abs(y - expected).max() / np.abs(expected).max() < 1e-3
    # The interpreter takes the model's own input type, as onnxruntime does, and computes float16 as ONNX
    # defines it: each operation's result rounded to float16.
    r = cli("run", out, "--input", FX / "input.npy", "-o", tmp_path / "y.npy", check=False)
    assert r.returncode == 1 and "input has element type f32, the model expects f16" in r.stderr
    np.save(tmp_path / "x16.npy", x.astype(np.float16))
    cli("run", out, "--input", tmp_path / "x16.npy", "-o", tmp_path / "y.npy")
    ours = np.load(tmp_path / "y.npy")
    assert ours.dtype == np.float16
    assert np.abs(ours.astype(np.float32) - expected).max() / np.abs(expected).max() < 1e-3
