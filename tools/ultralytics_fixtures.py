#!/usr/bin/env python3
"""Writes check fixtures for an Ultralytics (8.x) model, for users who have PyTorch and the ultralytics package.

    python tools/ultralytics_fixtures.py --config yolo11n.yaml --imgsz 640 --out fixtures/yolo11n
    python tools/ultralytics_fixtures.py --weights runs/detect/train/weights/best.pt --imgsz 640 --out fixtures/best

writes into --out:
  checkpoint.pt   an Ultralytics checkpoint as training leaves it (strip_optimizer's form: the pickled model in
                  float16 under 'model', 'ema' None, 'train_args'); with --weights, a copy of yours
  state_dict.pt   the float32 state_dict via torch.save
  input.npy       a seeded float32 input, 1x3xHxW in [0, 1)
  output.npy      what the checkpoint's model computes for it in float32 (Ultralytics loads with .float()),
                  as its ONNX export returns it: (1, 4 + nc [+ extra], anchors), or class probabilities
  output1.npy     segmentation models: the mask prototypes
  about.json      task, shapes, parameter count

--config builds an untrained model with seeded weights: BatchNorm statistics and conv biases randomised so that
fusion and biases matter. --width and --nc override the scale's width and the class count (a small model
for tests). Then:

    yolo-compile export fixtures/yolo11n/checkpoint.pt -o m.onnx --imgsz 640
    yolo-compile run m.onnx --input fixtures/yolo11n/input.npy -o ours.npy
"""
import argparse
import json
import os
import shutil
from copy import deepcopy
from pathlib import Path

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="a model YAML or name (yolo11n.yaml): build a seeded, untrained model")
    src.add_argument("--weights", help="an Ultralytics checkpoint (best.pt)")
    ap.add_argument("--width", type=float, help="override the scale's width multiple (--config only)")
    ap.add_argument("--nc", type=int, help="override the number of classes (--config only)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch
    from ultralytics import __version__
    from ultralytics.nn.tasks import (ClassificationModel, DetectionModel, OBBModel, PoseModel, SegmentationModel,
                                      guess_model_task, yaml_model_load)

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(a.seed)
    if a.weights:
        shutil.copy(a.weights, out / "checkpoint.pt")
    else:
        cfg = yaml_model_load(a.config)
        if a.width:
            scale = cfg.get("scale") or next(iter(cfg["scales"]))
            depth, _, max_channels = cfg["scales"][scale]
            cfg["scales"] = {scale: [depth, a.width, max_channels]}
            cfg["scale"] = scale
        if a.nc:
            cfg["nc"] = a.nc
        task = guess_model_task(cfg)
        kind = {"detect": DetectionModel, "segment": SegmentationModel, "pose": PoseModel, "obb": OBBModel,
                "classify": ClassificationModel}[task]
        model = kind(cfg, verbose=False)
        g = torch.Generator().manual_seed(a.seed + 1)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5, generator=g)
                    m.bias.uniform_(-0.25, 0.25, generator=g)
                    m.running_mean.uniform_(-0.25, 0.25, generator=g)
                    m.running_var.uniform_(0.5, 2.0, generator=g)
                elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None and m.weight.requires_grad:
                    m.bias.uniform_(-0.5, 0.5, generator=g)
        model.names = {i: f"class{i}" for i in range(model.yaml["nc"])}
        model.args = {"task": task, "imgsz": a.imgsz, "model": str(a.config)}
        half = deepcopy(model).half().eval()
        for p in half.parameters():
            p.requires_grad = False
        # strip_optimizer's form of a finished training run's best.pt.
        torch.save({"date": "2026-12-03T00:00:00", "version": __version__, "license": "AGPL-3.0 (https://ultralytics.com/license)",
                    "docs": "https://docs.ultralytics.com", "epoch": -1, "best_fitness": None, "model": half, "ema": None,
                    "updates": None, "optimizer": None, "train_args": dict(model.args), "train_metrics": None,
                    "train_results": None}, out / "checkpoint.pt")

    ckpt = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
    model = (ckpt.get("ema") or ckpt["model"]).float().eval()
    torch.save(model.state_dict(), out / "state_dict.pt")
    x = torch.from_numpy(np.random.default_rng(a.seed).random((1, 3, a.imgsz, a.imgsz), dtype=np.float32))
    with torch.no_grad():
        y = model(x)
    y = y[0] if isinstance(y, (tuple, list)) else y  # eval mode: (export output, raw)
    if isinstance(y, (tuple, list)):  # Segment: (detections, prototypes)
        np.save(out / "output1.npy", y[1].numpy())
        y = y[0]
    np.save(out / "input.npy", x.numpy())
    np.save(out / "output.npy", y.numpy())
    (out / "about.json").write_text(json.dumps({
        "task": guess_model_task(model), "input": list(x.shape), "output": list(y.shape),
        "params": sum(p.numel() for p in model.parameters()), "ultralytics": __version__,
    }, indent=1))
    print(f"wrote {out}: input {tuple(x.shape)}, output {tuple(y.shape)}")


if __name__ == "__main__":
    main()
