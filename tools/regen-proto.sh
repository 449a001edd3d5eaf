#!/usr/bin/env bash
# Regenerates Sources/COnnxProto from proto/onnx.proto with protoc-c (Debian protobuf-c-compiler).
#   tools/regen-proto.sh            rewrite the committed C
#   tools/regen-proto.sh --check    exit 1 if the committed C differs from what protoc-c generates now
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
command -v protoc-c >/dev/null || { echo "regen-proto: protoc-c not found (apt-get install protobuf-c-compiler)" >&2; exit 2; }
(cd "$root/proto" && protoc-c --c_out="$tmp" onnx.proto)
# The header lives in include/ so SwiftPM exports it; the .c includes it by its plain name.
if [ "${1:-}" = "--check" ]; then
  cmp -s "$tmp/onnx.pb-c.c" "$root/Sources/COnnxProto/onnx.pb-c.c" &&
  cmp -s "$tmp/onnx.pb-c.h" "$root/Sources/COnnxProto/include/onnx.pb-c.h" ||
  { echo "regen-proto: Sources/COnnxProto is stale; run tools/regen-proto.sh" >&2; exit 1; }
  echo "regen-proto: generated C is current"
else
  cp "$tmp/onnx.pb-c.c" "$root/Sources/COnnxProto/onnx.pb-c.c"
  cp "$tmp/onnx.pb-c.h" "$root/Sources/COnnxProto/include/onnx.pb-c.h"
  echo "regen-proto: wrote Sources/COnnxProto"
fi
