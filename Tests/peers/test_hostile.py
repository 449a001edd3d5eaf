"""Hostile files through the CLI (issue 12): each is refused with one line naming the file and what is
wrong, exit status 1 (64 for bad arguments), no crash, no hang, and nothing written but a complete
output. The files are made here with the standard library; RELIABILITY.md maps each class to these."""
import io
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from test_peers import BIN, ROOT, cli

sys.path.insert(0, str(ROOT / "tools"))
TINY = ROOT / "Tests/Fuzz/Corpus/config/tiny.yaml"
STATE_DICT = ROOT / "Tests/Fuzz/Corpus/torch/state-dict.pt"


def refused(args, message, code=1, timeout=60):
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == code, r.stderr
    assert r.stderr == f"error: {message}\n"
    assert r.stdout == ""


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.yaml"
    os.mkfifo(fifo)  # no writer: a blocking open would hang
    refused(["summary", fifo], f"{fifo}: is a FIFO, expected a model YAML file", timeout=10)
    refused(["summary", TINY, "--weights", tmp_path], f"{tmp_path}: is a directory, expected a weights file", timeout=10)
    refused(["run", "/dev/zero", "-o", tmp_path / "y.npy"], "/dev/zero: is a character device, expected an ONNX model file", timeout=10)


def test_output_that_is_an_input_is_refused_before_reading(tmp_path):
    cfg = tmp_path / "m.yaml"
    cfg.write_text(TINY.read_text())
    link = tmp_path / "link.onnx"
    link.symlink_to(cfg)
    refused(["export", cfg, "-o", link], f"{link}: is the input {cfg} (the same file); choose another output path")
    assert cfg.read_text() == TINY.read_text()


def test_sigterm_removes_the_temporary_file(tmp_path):
    out = tmp_path / "x.onnx"
    p = subprocess.Popen([BIN, "export", ROOT / "samples/yolov5x.yaml", "-o", out], stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not any(f.name.startswith(".x.onnx.tmp-") for f in tmp_path.iterdir()):
        assert p.poll() is None, "export ended before its temporary file appeared"
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_argument_errors_name_the_bad_value(tmp_path):
    refused(["export", TINY, "-o", tmp_path / "m.onnx", "--imgsz", "-1"], "--imgsz must be between 1 and 16384, got [-1]", code=64)
    refused(["verify", TINY, "--tolerance", "nan"], "--tolerance must be a positive, finite number, got nan", code=64)
    refused(["export", TINY, "-o", tmp_path / "m.onnx", "--memory-limit", "lots"],
            "--memory-limit must be a positive size like 4G, 512M or 1073741824, got 'lots'", code=64)


def safetensors(tensors, pad=0):
    import json
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        b = arr.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def test_safetensors_whose_length_begins_with_0x80_is_read_as_safetensors(tmp_path):
    body = safetensors({"w": np.ones(2)})
    length = struct.unpack("<Q", body[:8])[0]
    f = tmp_path / "w.safetensors"
    f.write_bytes(safetensors({"w": np.ones(2)}, pad=0x80 - length % 256))  # header length 0x..80: starts with 0x80
    assert f.read_bytes()[0] == 0x80
    r = cli("inspect", f)
    assert "(safetensors, 1 tensors: F32 x 1)" in r.stdout


def test_text_from_a_file_is_escaped(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(safetensors({"a\x1b[31m\nforged line": np.ones(2)}))
    r = cli("inspect", f)
    assert "a\\u{1b}[31m\\u{a}forged line: F32 [2]" in r.stdout
    assert "\x1b" not in r.stdout


def test_nonfinite_weights_are_refused_unless_allowed(tmp_path):
    onnx_path = tmp_path / "u.onnx"
    cli("export", TINY, "-o", onnx_path, "--no-fuse", "--imgsz", "64")
    import onnx
    from onnx import numpy_helper
    tensors = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer if t.name.startswith("model.")}
    tensors["model.2.cv1.conv.weight"] = tensors["model.2.cv1.conv.weight"].copy()
    tensors["model.2.cv1.conv.weight"].flat[5] = np.nan
    w = tmp_path / "w.safetensors"
    w.write_bytes(safetensors(tensors))
    refused(["export", TINY, "--weights", w, "-o", tmp_path / "m.onnx", "--imgsz", "64"],
            f"{w}: tensor model.2.cv1.conv.weight holds nan at element 5 (a corrupt or diverged checkpoint?); pass --allow-nonfinite-weights to export it anyway")
    assert not (tmp_path / "m.onnx").exists()
    cli("export", TINY, "--weights", w, "-o", tmp_path / "m.onnx", "--imgsz", "64", "--allow-nonfinite-weights", "--partial-weights")


def patch_zip(data, name, local=None, central=None):
    """Overwrites fields of one entry's local header (offset from its start) and central record."""
    b = bytearray(data)
    z = zipfile.ZipFile(io.BytesIO(data))
    info = z.getinfo(name)
    for off, fmt, value in local or []:
        struct.pack_into(fmt, b, info.header_offset + off, value)
    pos = data.index(b"PK\x01\x02")
    while True:
        n, e, c = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46:pos + 46 + n].decode() == name:
            for off, fmt, value in central or []:
                struct.pack_into(fmt, b, pos + off, value)
            return bytes(b)
        pos += 46 + n + e + c


def test_zip_crc_is_verified(tmp_path):
    src = ROOT / "Tests/Fuzz/Corpus/torch/micro-checkpoint.pt"
    z = zipfile.ZipFile(src)
    info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(src.read_bytes())
    n, e = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + n + e + 3] ^= 0xFF  # a stored storage's byte: only the CRC can tell
    f = tmp_path / "bad.pt"
    f.write_bytes(data)
    r = subprocess.run([BIN, "export", f, "-o", tmp_path / "m.onnx"], capture_output=True, text=True)
    assert r.returncode == 1
    import re
    assert re.fullmatch(rf"error: {re.escape(str(f))}: tensor model\.[0-9a-z_.]+: zip entry {info.filename} is corrupt: its CRC-32 is [0-9a-f]{{8}}, the zip records [0-9a-f]{{8}}\n", r.stderr), r.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_deflate_bomb_stops_at_the_declared_size(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(STATE_DICT) as zin, zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data + b"\x00" * 10_000_000  # inflates to 10 MB past STOP
            zout.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED if info.filename.endswith("data.pkl") else zipfile.ZIP_STORED)
    data = buf.getvalue()
    # Claim 243 bytes (the real pickle) in both headers; the stream still inflates to 10 MB.
    data = patch_zip(data, "archive/data.pkl", local=[(22, "<I", 243)], central=[(24, "<I", 243)])
    f = tmp_path / "bomb.pt"
    f.write_bytes(data)
    # torch.save never compresses; a compressed entry is refused rather than inflated.
    refused(["inspect", f], f"{f}: data.pkl: zip entry archive/data.pkl is compressed; torch.save stores its entries uncompressed "
                            "(resave the checkpoint with torch.save)")


def test_zip_claims_past_the_file_are_refused(tmp_path):
    data = STATE_DICT.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    entries, cd_size, cd_offset = struct.unpack_from("<HII", data, eocd + 10)
    # A zip64 end record whose central directory lies at 2^63 (ZIPFoundation would trap converting it).
    z64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, entries, entries, cd_size, 2**63)
    locator = struct.pack("<IIQI", 0x07064B50, 0, eocd, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    f = tmp_path / "zip64.pt"
    f.write_bytes(data[:eocd] + z64 + locator + end)
    refused(["inspect", f], f"{f}: claims a central directory at 9223372036854775808, past the file's {eocd + len(z64) + 42} bytes")
    # A local header past the end of the file.
    f = tmp_path / "local.pt"
    f.write_bytes(patch_zip(data, "archive/data.pkl", central=[(42, "<I", len(data) + 10)]))
    refused(["inspect", f], f"{f}: zip entry archive/data.pkl: claims a local header at {len(data) + 10}, past the file's {len(data)} bytes")


def checkpoint_pickle(root):
    import make_checkpoint as mc
    class Pickler(__import__("pickle").Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, mc.Storage):
                return ("storage", obj.cls, obj.key, "cpu", getattr(obj, "count", len(obj.data) // 2))
            return None
    out = io.BytesIO()
    Pickler(out, protocol=2).dump(root)
    return out.getvalue()


def write_checkpoint(path, root, storages):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", checkpoint_pickle(root))
        for s in storages:
            z.writestr(f"archive/data/{s.key}", s.data)


def test_module_tree_that_holds_itself_is_refused(tmp_path):
    import make_checkpoint as mc
    model = mc.new_module("models.yolo.DetectionModel", yaml={"nc": 1})
    model._modules["model"] = model  # a cycle
    f = tmp_path / "cycle.pt"
    write_checkpoint(f, {"model": model}, [])
    r = subprocess.run([BIN, "inspect", f], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: {f}: the module tree nests deeper than 256 levels (a module that contains itself?) at model.model.model.")


def test_storage_sizes_that_overflow_are_refused(tmp_path):
    import make_checkpoint as mc
    s = mc.Storage("0", mc.HalfStorage, b"\x00" * 8)
    s.count = 1 << 62
    f = tmp_path / "huge.pt"
    write_checkpoint(f, {"w": mc.Tensor(s, (2, 2))}, [s])
    refused(["inspect", f], f"{f}: storage 0 claims 4611686018427387904 elements")
    s.count = 4
    f2 = tmp_path / "view.pt"

    class Strided(mc.Tensor):
        def __reduce__(self):
            return mc.rebuild_tensor, (self.storage, 1, (2, 2), (1 << 62, 1), False, __import__("collections").OrderedDict())
    write_checkpoint(f2, {"w": Strided(s, (2, 2))}, [s])
    refused(["inspect", f2], f"{f2}: tensor w: a view of offset 1, shape [2, 2] and strides [4611686018427387904, 1] reaches past storage 0, which has 4 elements")


def test_run_refuses_past_the_memory_limit(tmp_path):
    m = tmp_path / "m.onnx"
    cli("export", TINY, "-o", m, "--imgsz", "64")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 3, 64, 64), np.float32))
    r = subprocess.run([BIN, "run", m, "--input", x, "-o", tmp_path / "y.npy", "--memory-limit", "100K"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith("error: interpreter: node /model.0/conv/Conv (Conv): running the node (its outputs 32768 bytes, scratch ")
    assert r.stderr.endswith("more than the memory limit of 102400 bytes (100.0 KiB) (--memory-limit raises it)\n")
    assert not (tmp_path / "y.npy").exists()


def onnx_model(path, nodes, inputs, outputs, inits=()):
    import onnx
    from onnx import helper as h
    g = h.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), str(path))
    return path


def test_onnx_sizes_and_values_at_the_extremes(tmp_path):
    from onnx import TensorProto as T, helper as h, numpy_helper as nh
    F = lambda n, s: h.make_tensor_value_info(n, T.FLOAT, s)
    I = lambda n, s: h.make_tensor_value_info(n, T.INT64, s)
    i64 = lambda v, n: nh.from_array(np.array(v, np.int64), n)
    lo = np.iinfo(np.int64).min
    m = onnx_model(tmp_path / "empty.onnx", [h.make_node("Identity", ["w"], ["y"])], [], [F("y", None)],
                   [h.make_tensor("w", T.FLOAT, [0, 2**62, 4], [])])
    refused(["inspect", m], f"{m}: tensor 'w' has an invalid shape [0, 4611686018427387904, 4]")
    m = onnx_model(tmp_path / "range.onnx", [h.make_node("Range", ["s", "l", "d"], ["y"])], [], [I("y", None)],
                   [i64(0, "s"), i64(lo, "l"), i64(-1, "d")])
    refused(["inspect", m], f"{m}: node #0 ('y') (Range): Range(0.0, -9.223372036854776e+18, -1.0) has no finite length")
    m = onnx_model(tmp_path / "pad.onnx", [h.make_node("Pad", ["x", "p"], ["y"])], [F("x", [1, 2])], [F("y", None)], [i64([lo, 0, 0, 0], "p")])
    refused(["inspect", m], f"{m}: node #0 ('y') (Pad): pads [-9223372036854775808, 0, 0, 0] are too large")
    m = onnx_model(tmp_path / "gather.onnx", [h.make_node("GatherElements", ["x", "i"], ["y"], axis=1)], [F("x", [2, 2])], [F("y", None)],
                   [nh.from_array(np.zeros((3, 2), np.int64), "i")])
    refused(["inspect", m], f"{m}: node #0 ('y') (GatherElements): indices i64[3,2] are larger than data f32[2,2] off axis 1")
    # A step of 2^62 on a non-last axis reads one row, as numpy does.
    m = onnx_model(tmp_path / "slice.onnx", [h.make_node("Slice", ["x", "a", "b", "c", "d"], ["y"])], [F("x", [4, 4])], [F("y", None)],
                   [i64([0], "a"), i64([4], "b"), i64([0], "c"), i64([2**62], "d")])
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.save(tmp_path / "x.npy", x)
    cli("run", m, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert np.array_equal(np.load(tmp_path / "y.npy"), x[0::2**62])


def test_execution_past_the_memory_limit_is_refused_before_it_allocates(tmp_path):
    from onnx import TensorProto as T, helper as h
    F = lambda n, s: h.make_tensor_value_info(n, T.FLOAT, s)
    # A 1x1 input pooled by a 2^19 x 2^19 window: a 16-byte output whose tap map would be 8 TiB.
    m = onnx_model(tmp_path / "pool.onnx", [h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2**19, 2**19], pads=[2**18] * 4)],
                   [F("x", [1, 1, 1, 1])], [F("y", None)])
    np.save(tmp_path / "x.npy", np.ones((1, 1, 1, 1), np.float32))
    refused(["run", m, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--memory-limit", "1G"],
            "interpreter: node (output 'y') (MaxPool): running the node (its outputs 16 bytes, scratch 8796093022208 bytes, with 4 bytes live) "
            "needs 8796093022228 bytes (8.0 TiB), more than the memory limit of 1073741824 bytes (1.0 GiB) (--memory-limit raises it)")
    # ConstantOfShape asked for 2^31 - 1 floats by its input.
    m = onnx_model(tmp_path / "cos.onnx", [h.make_node("ConstantOfShape", ["s"], ["y"], value=h.make_tensor("v", T.FLOAT, [1], [1.0]))],
                   [h.make_tensor_value_info("s", T.INT64, [1])], [F("y", None)])
    np.save(tmp_path / "s.npy", np.array([2**31 - 1], np.int64))
    refused(["run", m, "--input", tmp_path / "s.npy", "-o", tmp_path / "y.npy", "--memory-limit", "1G"],
            "interpreter: node (output 'y') (ConstantOfShape): running the node (its outputs 8589934588 bytes, scratch 0 bytes, with 8 bytes live) "
            "needs 8589934596 bytes (8.0 GiB), more than the memory limit of 1073741824 bytes (1.0 GiB) (--memory-limit raises it)")
    assert not (tmp_path / "y.npy").exists()


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_types_nested_100000_deep_are_not_unpacked(tmp_path):
    """A value_info whose type is a sequence of sequences 100,000 deep: protobuf-c would recurse once per
    level; the schema leaves Sequence's element type out, so the reader never descends."""
    import onnx
    from onnx import TensorProto as T, helper as h
    sizes, tags = [0], []
    for i in range(200_000):  # alternately Sequence.elem_type (field 1) and TypeProto.sequence_type (field 4)
        tags.append(0x0A if i % 2 == 0 else 0x22)
        sizes.append(1 + len(varint(sizes[-1])) + sizes[-1])
    nested = b"".join(bytes([tags[i]]) + varint(sizes[i]) for i in reversed(range(200_000)))
    vi = b"\x0a\x01v\x12" + varint(len(nested)) + nested
    m = h.make_model(h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g", [h.make_tensor_value_info("x", T.FLOAT, [2])],
                                  [h.make_tensor_value_info("y", T.FLOAT, [2])]), opset_imports=[h.make_opsetid("", 17)])
    graph = m.graph.SerializeToString() + b"\x6a" + varint(len(vi)) + vi  # GraphProto.value_info (13)
    m.ClearField("graph")
    f = tmp_path / "nested.onnx"
    f.write_bytes(m.SerializeToString() + b"\x3a" + varint(len(graph)) + graph)
    r = cli("inspect", f)
    assert "nodes: 1 (Relu 1)" in r.stdout


def test_run_writes_all_of_its_outputs_or_none(tmp_path):
    m = tmp_path / "seg.onnx"
    cli("export", ROOT / "samples/yolov5s-seg.yaml", "-o", m, "--imgsz", "64")
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 64, 64), np.float32))
    out = tmp_path / "o"
    out.mkdir()
    (out / "y.1.npy").mkdir()  # the second output cannot be written: the first must not be either
    refused(["run", m, "--input", tmp_path / "x.npy", "-o", out / "y.npy"], f"{out / 'y.1.npy'}: cannot write: it is a directory")
    assert sorted(p.name for p in out.iterdir()) == ["y.1.npy"]
    (out / "y.1.npy").rmdir()
    cli("run", m, "--input", tmp_path / "x.npy", "-o", out / "y.npy")
    assert sorted(p.name for p in out.iterdir()) == ["y.1.npy", "y.npy"]  # output0 at the path, output k at .k


def test_a_long_value_in_a_message_is_bounded(tmp_path):
    cfg = tmp_path / "m.yaml"
    cfg.write_text("nc: '" + "x" * 100_000 + "'\nanchors: 1\nbackbone: []\nhead: []\n")
    r = subprocess.run([BIN, "summary", cfg], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: {cfg}:1: 'nc' must be a positive integer, got xxx")
    assert r.stderr.endswith(" more characters)\n") and len(r.stderr) < 1100
