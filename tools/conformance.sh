#!/usr/bin/env bash
# Runs the ONNX backend node tests through yolo-compile (the Swift ConformanceTests) and through
# onnxruntime, and writes CONFORMANCE.md with both side by side.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release
swift test -c release --filter ConformanceTests
.venv/bin/python tools/conformance.py --results .build/conformance/results.tsv -o CONFORMANCE.md
