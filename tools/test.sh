#!/usr/bin/env bash
# The test suite: the committed protobuf-c C is current, the Swift tests (release build: the
# interpreter runs real models), then the peer tests (onnx checker, onnxruntime) on the CLI's output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/regen-proto.sh --check
swift build -c release
swift test -c release
YOLO_COMPILE="$root/.build/release/yolo-compile" .venv/bin/python -m pytest -q Tests/peers
