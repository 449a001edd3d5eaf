#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into Tests/Fuzz/Corpus/<target>/ from the project's samples and
small files made here (no PyTorch needed). Deterministic: run it again and nothing changes.

    .venv/bin/python tools/fuzz-corpus.py

config:       every samples/*.yaml, a tiny YOLOv5 config (width 1/16) that compiles in milliseconds, a tiny
              Ultralytics one, and YOLOv5's torch.nn layers
onnx:         that tiny config exported by yolo-compile at 64x64, and small models from the ONNX node
              tests (libonnx-testdata) for the operator families the reader and interpreter cover
torch:        the tiny config as a YOLOv5 checkpoint (tools/make_checkpoint.py) and as a state_dict
safetensors:  a few headers and dtypes
npy:          each dtype, C and Fortran order, both byte orders, 1.0 and 2.0 headers
"""
import hashlib
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "Tests/Fuzz/Corpus"
YC = ROOT / ".build/release/yolo-compile"
TESTDATA = Path("/usr/share/libonnx-testdata/data/node")
NODE_TESTS = ["test_conv_with_strides_padding", "test_maxpool_2d_pads", "test_averagepool_2d_same_upper", "test_concat_2d_axis_0",
              "test_reshape_negative_dim", "test_transpose_default", "test_slice", "test_slice_neg_steps", "test_split_variable_parts_1d",
              "test_resize_upsample_scales_nearest", "test_gather_0", "test_gatherelements_0", "test_scatter_elements_with_axis",
              "test_scatternd", "test_onehot_with_axis", "test_range_int32_type_negative_delta", "test_einsum_batch_matmul",
              "test_lrn", "test_pad", "test_tile", "test_expand_dim_changed", "test_constantofshape_int_zeros", "test_nonzero_example",
              "test_topk", "test_reduce_mean_default_axes_keepdims_example", "test_softmax_axis_1", "test_layer_normalization_4d_axis1",
              "test_instancenorm_example", "test_matmul_3d", "test_gemm_default_single_elem_vector_bias", "test_div", "test_mod_int64_fmod",
              "test_cast_FLOAT_to_FLOAT16", "test_convtranspose_pads", "test_depthtospace_example", "test_where_example", "test_clip",
              "test_sigmoid", "test_hardswish", "test_argmax_default_axis_example"]

TINY = """# A YOLOv5 config small enough to compile in milliseconds (the fuzzers' seed).
nc: 2
depth_multiple: 0.33
width_multiple: 0.0625
anchors:
  - [10,13, 16,30, 33,23]
  - [30,61, 62,45, 59,119]
  - [116,90, 156,198, 373,326]
backbone:
  [[-1, 1, Conv, [64, 6, 2, 2]],
   [-1, 1, Conv, [128, 3, 2]],
   [-1, 1, C3, [128]],
   [-1, 1, Conv, [256, 3, 2]],
   [-1, 1, C3, [256]],
   [-1, 1, Conv, [512, 3, 2]],
   [-1, 1, SPPF, [512, 5]],
  ]
head:
  [[-1, 1, Conv, [256, 1, 1]],
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 4], 1, Concat, [1]],
   [-1, 1, C3, [256, False]],
   [[10, 8, 6], 1, Detect, [nc, anchors]],
  ]
"""


# Two layers: a checkpoint of a few tensors keeps the torch fuzzer at thousands of runs a second.
# An Ultralytics config as small: every YOLO11 block and an anchor-free head, at width 1/8 (C2PSA's attention
# needs 64 hidden channels).
TINY_ULTRALYTICS = """nc: 2
scales:
  t: [0.33, 0.125, 1024]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, C2f, [128, True]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 2, C3k2, [256, True, 0.25]]
  - [-1, 1, SPPF, [1024, 5]]
  - [-1, 1, C2PSA, [1024]]
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 1], 1, Concat, [1]]
  - [-1, 1, C2, [128]]
  - [[8, 5], 1, Pose, [nc, [3, 3]]]
"""

# YOLOv5's parse_model on the torch.nn layers it evaluates by name.
TORCH_LAYERS = """nc: 2
anchors: 1
backbone:
  [[-1, 1, nn.Conv2d, [3, 3, [3, 1], 1, same, 1, 3]],
   [-1, 1, nn.ZeroPad2d, [[0, 1, 2, 0]]],
   [-1, 1, nn.MaxPool2d, [3, 2, 1, 1, False, True]],
   [-1, 1, nn.AvgPool2d, [2, 1, 1, True, False]],
   [-1, 1, nn.AdaptiveAvgPool2d, [[5, None]]],
   [-1, 1, nn.LeakyReLU, [0.2]],
   [-1, 1, nn.Flatten, [1, 2]],
  ]
head: []
"""

MICRO = """nc: 1
anchors:
  - [10,13, 16,30]
backbone:
  [[-1, 1, Conv, [4, 3, 2]]]
head:
  [[[0], 1, Detect, [nc, anchors]]]
"""


def state_dict_zip():
    """torch.save({'w': float32 (2, 2), 'b': float16 (2,) viewed at offset 1 with stride 2}) as torch writes it."""
    import io
    import zipfile
    pkl = (b"\x80\x02}q\x00(X\x01\x00\x00\x00wq\x01ctorch._utils\n_rebuild_tensor_v2\nq\x02((X\x07\x00\x00\x00storageq\x03"
           b"ctorch\nFloatStorage\nq\x04X\x01\x00\x00\x000q\x05X\x03\x00\x00\x00cpuq\x06K\x04tq\x07QK\x00K\x02K\x02\x86q\x08"
           b"K\x02K\x01\x86q\t\x89ccollections\nOrderedDict\nq\n)Rq\x0btq\x0cRq\rX\x01\x00\x00\x00bq\x0eh\x02((h\x03"
           b"ctorch\nHalfStorage\nq\x0fX\x01\x00\x00\x001q\x10h\x06K\x05tq\x11QK\x01K\x02\x85q\x12K\x02\x85q\x13\x89h\n)Rq\x14"
           b"tq\x15Rq\x16u.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
        z.writestr("archive/data/1", np.arange(5, dtype="<f2").tobytes())
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def reset(name):
    d = CORPUS / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def safetensors(tensors, metadata=None):
    import json
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, arr) in tensors.items():
        b = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def main():
    d = reset("config")
    for y in sorted((ROOT / "samples").glob("*.yaml")):
        shutil.copy(y, d / y.name)
    (d / "tiny.yaml").write_text(TINY)
    (d / "tiny-ultralytics.yaml").write_text(TINY_ULTRALYTICS)
    (d / "torch-layers.yaml").write_text(TORCH_LAYERS)

    d = reset("onnx")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "tiny.yaml"
        cfg.write_text(TINY)
        subprocess.run([YC, "export", cfg, "-o", d / "tiny-yolov5.onnx", "--imgsz", "64"], check=True, capture_output=True)
        for t in NODE_TESTS:
            src = TESTDATA / t / "model.onnx"
            if src.exists():
                shutil.copy(src, d / f"{t}.onnx")

        d = reset("torch")
        micro = Path(tmp) / "micro.yaml"
        micro.write_text(MICRO)
        subprocess.run([sys.executable, ROOT / "tools/make_checkpoint.py", micro, d / "micro-checkpoint.pt"], check=True, capture_output=True)
        (d / "state-dict.pt").write_bytes(state_dict_zip())

    d = reset("safetensors")
    rng = np.random.default_rng(0)
    (d / "f32.safetensors").write_bytes(safetensors({"model.0.conv.weight": ("F32", rng.standard_normal((4, 3, 3, 3)).astype("<f4")),
                                                      "model.0.bn.running_var": ("F32", np.ones(4, "<f4"))}, {"format": "pt"}))
    (d / "f16-i64.safetensors").write_bytes(safetensors({"a": ("F16", np.arange(6, dtype="<f2").reshape(2, 3)),
                                                          "n": ("I64", np.array([7], "<i8"))}))
    (d / "bf16-empty.safetensors").write_bytes(safetensors({"b": ("BF16", np.arange(4, dtype="<u2")), "e": ("F32", np.zeros((0, 3), "<f4"))}))

    d = reset("npy")
    import io
    arrays = {"f32": np.arange(12, dtype="<f4").reshape(3, 4), "f16": np.arange(6, dtype="<f2"), "f64-be": np.arange(6, dtype=">f8").reshape(2, 3),
              "i8": np.arange(-3, 3, dtype="i1"), "u16": np.arange(5, dtype="<u2"), "i64-fortran": np.asfortranarray(np.arange(6, dtype="<i8").reshape(2, 3)),
              "bool": np.array([True, False, True]), "scalar": np.array(3.5, "<f4"), "image": np.zeros((1, 3, 8, 8), "<f4")}
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, a)
        (d / f"{name}.npy").write_bytes(buf.getvalue())
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(4, dtype="<f4"), version=(2, 0))
    (d / "v2.npy").write_bytes(buf.getvalue())

    for t in sorted(CORPUS.iterdir()):
        files = list(t.iterdir())
        print(f"{t.name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
