#!/usr/bin/env python3
"""Writes check fixtures for your own YOLOv5 model, for users who have PyTorch and YOLOv5's code.

    python tools/export_fixtures.py --yolov5 /path/to/yolov5 --weights runs/train/exp/weights/best.pt \\
        --imgsz 640 --out fixtures/mymodel

writes into --out:
  weights.safetensors  every floating-point state_dict tensor, float32 (needs `pip install safetensors`)
  state_dict.pt        the state_dict via torch.save (zip format)
  checkpoint.pt        a copy of your checkpoint ({'model': DetectionModel, ...}) as YOLOv5 saved it
  input.npy            a seeded float32 input, 1x3xHxW in [0, 1)
  output.npy           PyTorch's eval-mode output for it (boxes decoded, as Detect returns them)
  about.json           shapes, parameter count, BatchNorm eps

Then check yolo-compile's export against your framework:

    yolo-compile export fixtures/mymodel/checkpoint.pt -o m.onnx --imgsz 640
    yolo-compile run m.onnx --input fixtures/mymodel/input.npy -o ours.npy
    python -c "import numpy as n; print(abs(n.load('ours.npy') - n.load('fixtures/mymodel/output.npy')).max())"

Use --float32 to compare in float32 (the model is cast up before the reference output is computed, and
the three weight files then hold the same values); without it checkpoint.pt keeps YOLOv5's float16.
Use --config model.yaml instead of --weights to build an untrained model from a config (seeded).
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yolov5", required=True, help="path to a YOLOv5 checkout (its models/ package is imported)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", help="a YOLOv5 training checkpoint (best.pt)")
    src.add_argument("--config", help="a model YAML: build a seeded, untrained model")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--float32", action="store_true", help="cast the model to float32 first")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    sys.path.insert(0, str(Path(a.yolov5).resolve()))
    import torch
    from models.yolo import DetectionModel  # noqa: E402  (YOLOv5's own class)

    torch.manual_seed(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.weights:
        ckpt = torch.load(a.weights, map_location="cpu", weights_only=False)
        model = (ckpt.get("ema") or ckpt["model"]).float()
        shutil.copy(a.weights, out / "checkpoint.pt")
    else:
        model = DetectionModel(a.config)
        torch.save({"model": model.half(), "epoch": -1, "optimizer": None}, out / "checkpoint.pt")
        model = model.float()
    if a.float32:
        torch.save({"model": model, "epoch": -1, "optimizer": None}, out / "checkpoint.pt")
    model.eval()

    state = model.state_dict()
    torch.save(state, out / "state_dict.pt")
    try:
        from safetensors.torch import save_file
        save_file({k: v.float().contiguous() for k, v in state.items() if v.is_floating_point()}, str(out / "weights.safetensors"))
    except ImportError:
        print("safetensors not installed: skipped weights.safetensors (pip install safetensors)")

    x = torch.from_numpy(np.random.default_rng(a.seed).random((1, 3, a.imgsz, a.imgsz), dtype=np.float32))
    with torch.no_grad():
        y = model(x)[0]
    np.save(out / "input.npy", x.numpy())
    np.save(out / "output.npy", y.numpy())
    eps = sorted({m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)})
    (out / "about.json").write_text(json.dumps({
        "input": list(x.shape), "output": list(y.shape),
        "params": sum(p.numel() for p in model.parameters()), "batchnorm_eps": eps,
    }, indent=1))
    print(f"wrote {out}: input {tuple(x.shape)}, output {tuple(y.shape)}")


if __name__ == "__main__":
    main()
