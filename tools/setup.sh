#!/usr/bin/env bash
# Installs everything yolo-compile builds and tests with, on Debian (run as root or with sudo):
# system libraries through apt-get, the Python peers (onnx, onnxruntime, OpenCV, OpenVINO) into ./.venv,
# pnnx and ncnn into ./.venv-ncnn.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
# libonnx-testdata: the ONNX project's backend node tests, which the conformance test runs.
pkgs="libprotobuf-c-dev protobuf-c-compiler libopenblas-dev pkg-config python3-venv libonnx-testdata"
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
if [ ! -x "$root/.venv/bin/python" ]; then python3 -m venv "$root/.venv"; fi
"$root/.venv/bin/pip" install -q --disable-pip-version-check -r "$root/tools/requirements.txt"
# The ncnn peer in its own venv: pnnx (its converter binary only, see tools/requirements-ncnn.txt) and ncnn.
if [ ! -x "$root/.venv-ncnn/bin/python" ]; then python3 -m venv "$root/.venv-ncnn"; fi
"$root/.venv-ncnn/bin/pip" install -q --disable-pip-version-check --no-deps pnnx==20261020
"$root/.venv-ncnn/bin/pip" install -q --disable-pip-version-check -r "$root/tools/requirements-ncnn.txt"
echo "setup: system packages and .venv ready"
