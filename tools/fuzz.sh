#!/usr/bin/env bash
# Builds one libFuzzer target (with the address sanitizer) and runs it from its committed seed corpus.
#   tools/fuzz.sh TARGET SECONDS [libFuzzer options...]
# TARGET is config, onnx, torch, safetensors or npy (the FuzzConfig ... FuzzNpy targets in Tests/Fuzz).
# New inputs found go to .build/fuzz-corpus/TARGET (the committed seeds are never written); a crash,
# a timeout (10 s for one input) or an out-of-memory (2 GiB RSS) stops the run with a non-zero
# status and leaves the input in .build/fuzz-findings/TARGET/. Never run it while another Swift build
# or fuzzer is running: the machine has two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -ge 2 ] || { echo "usage: tools/fuzz.sh config|onnx|torch|safetensors|npy SECONDS [libFuzzer options]" >&2; exit 2; }
target=$1 seconds=$2
shift 2
case "$target" in
  config) product=FuzzConfig ;; onnx) product=FuzzOnnx ;; torch) product=FuzzTorch ;;
  safetensors) product=FuzzSafetensors ;; npy) product=FuzzNpy ;;
  *) echo "fuzz: unknown target '$target' (config, onnx, torch, safetensors, npy)" >&2; exit 2 ;;
esac
# FUZZ_NO_BUILD=1 skips the build (to run two targets at once after one build).
# The targets exist only when YOLO_FUZZ is set (Package.swift); their own build folder keeps the
# sanitized objects apart from the release build.
[ -n "${FUZZ_NO_BUILD:-}" ] || YOLO_FUZZ=1 swift build -c release --build-path .build/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
  --product "$product" 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3
work=.build/fuzz-corpus/$target findings=.build/fuzz-findings/$target
mkdir -p "$work" "$findings"
# -rss_limit_mb: the targets cap MemoryLimit at 256 MiB, so 2 GiB means a limit was bypassed.
# -detect_leaks=0: a one-shot tool may leak; a cyclic pickle leaks by design, and Foundation's
# fileSystemRepresentation (which ZIPFoundation calls) leaks a path per archive opened.
# -max_len 1 MiB: room for the largest seed (a checkpoint) to grow.
# Swift's own backtracer would wait on the crashed process under the sanitizer: libFuzzer reports.
export SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0
exec .build/fuzz/release/$product "$work" "Tests/Fuzz/Corpus/$target" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -detect_leaks=0 -max_len=1048576 -print_final_stats=1 -artifact_prefix="$findings/" "$@"
