#!/usr/bin/env python3
"""Writes a YOLOv5-style training checkpoint (best.pt) for a config, without PyTorch, for benchmarks.

    .venv/bin/python tools/make_checkpoint.py samples/yolov5s.yaml yolov5s-ckpt.pt [--seed 0]

The file has torch.save's layout (a zip with ARCHIVE/data.pkl and ARCHIVE/data/N, pickle protocol 2)
and YOLOv5's content: {'model': DetectionModel in float16, 'epoch': -1, 'optimizer': None, ...}, the
model a module tree (_modules, _parameters, _buffers, BatchNorm eps) carrying its config dict as `yaml`.
Weights are yolo-compile's seeded ones (from an unfused export), so the file is only good for timing
and memory figures; use tools/export_fixtures.py (needs PyTorch) to check against a real model.
"""
import argparse
import collections
import io
import pickle
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np
import onnx
import yaml
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[1]


def fake_module(name):
    """A stand-in module in sys.modules, so pickle writes GLOBAL references to torch's names."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):  # parents too: pickle imports the dotted path
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    return sys.modules[name]


def fake_global(module, name, value):
    value.__module__, value.__qualname__, value.__name__ = module, name, name
    setattr(fake_module(module), name, value)
    return value


rebuild_tensor = fake_global("torch._utils", "_rebuild_tensor_v2", lambda *a: None)
rebuild_parameter = fake_global("torch._utils", "_rebuild_parameter", lambda *a: None)
HalfStorage = fake_global("torch", "HalfStorage", type("HalfStorage", (), {}))
LongStorage = fake_global("torch", "LongStorage", type("LongStorage", (), {}))
CLASSES = {}


def module_class(path):
    module, name = path.rsplit(".", 1)
    if path not in CLASSES:
        CLASSES[path] = fake_global(module, name, type(name, (), {}))
    return CLASSES[path]


class Storage:
    def __init__(self, key, cls, data):
        self.key, self.cls, self.data = key, cls, data


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, tuple(shape)

    def __reduce__(self):
        strides, s = [], 1
        for d in reversed(self.shape):
            strides.insert(0, s)
            s *= d
        return rebuild_tensor, (self.storage, 0, self.shape, tuple(strides), False, collections.OrderedDict())


class Parameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce__(self):
        return rebuild_parameter, (self.tensor, True, collections.OrderedDict())


def new_module(cls_path, **attrs):
    m = module_class(cls_path)()
    m.__dict__.update(training=False, _parameters=collections.OrderedDict(), _buffers=collections.OrderedDict(),
                      _non_persistent_buffers_set=set(), _modules=collections.OrderedDict(), **attrs)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("output")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--yolo-compile", default=str(ROOT / ".build/release/yolo-compile"))
    a = ap.parse_args()

    cfg = yaml.safe_load(Path(a.config).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "unfused.onnx"
        subprocess.run([a.yolo_compile, "export", a.config, "-o", onnx_path, "--no-fuse", "--seed", a.seed],
                       check=True, capture_output=True)
        tensors = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer if t.name.startswith("model.")}

    storages = []

    def tensor(array, cls=HalfStorage):
        data = np.ascontiguousarray(array.astype(np.float16 if cls is HalfStorage else np.int64))
        s = Storage(str(len(storages)), cls, data.tobytes())
        storages.append(s)
        return Tensor(s, array.shape)

    # Anchors: the config's pixels over strides 8, 16, 32, as YOLOv5 stores them; one counter per BatchNorm.
    detect = str(len(cfg["backbone"]) + len(cfg["head"]) - 1)
    anchors = np.array(cfg["anchors"], dtype=np.float32).reshape(len(cfg["anchors"]), -1, 2)
    tensors[f"model.{detect}.anchors"] = anchors / np.array([8, 16, 32], dtype=np.float32)[: len(anchors), None, None]

    root = new_module("models.yolo.DetectionModel", yaml_file=Path(a.config).name, yaml=cfg,
                      names=[str(i) for i in range(cfg["nc"])], inplace=True)
    for name in sorted(tensors, key=lambda n: [int(p) if p.isdigit() else p for p in n.split(".")]):
        *path, leaf = name.split(".")
        m = root
        for i, p in enumerate(path):
            if p not in m._modules:
                is_bn = f"{'.'.join(path[:i + 1])}.running_mean" in tensors
                cls = "torch.nn.modules.batchnorm.BatchNorm2d" if is_bn else "models.common.Module"
                m._modules[p] = new_module(cls, **({"eps": 0.001, "momentum": 0.03} if is_bn else {}))
                if is_bn:
                    m._modules[p]._buffers["num_batches_tracked"] = tensor(np.array(0), LongStorage)
            m = m._modules[p]
        if leaf in ("running_mean", "running_var", "anchors"):
            m._buffers[leaf] = tensor(tensors[name])
        else:
            m._parameters[leaf] = Parameter(tensor(tensors[name]))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", obj.cls, obj.key, "cpu", len(obj.data) // (2 if obj.cls is HalfStorage else 8))
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump({"epoch": -1, "best_fitness": None, "model": root, "ema": None, "updates": None,
                                   "optimizer": None, "opt": {}, "git": None, "date": None})
    archive = Path(a.output).stem
    with zipfile.ZipFile(a.output, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buf.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for s in storages:
            z.writestr(f"{archive}/data/{s.key}", s.data)
        z.writestr(f"{archive}/version", "3\n")
    print(f"wrote {a.output}: {len(tensors)} tensors, {Path(a.output).stat().st_size} bytes")


if __name__ == "__main__":
    main()
