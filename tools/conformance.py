#!/usr/bin/env python3
"""Writes CONFORMANCE.md: the ONNX backend node tests (Debian's libonnx-testdata) per operator, with
yolo-compile's result beside onnxruntime's on the same cases.

yolo-compile's results come from the Swift conformance test (ConformanceTests, which runs every case
through the CLI and writes .build/conformance/results.tsv); onnxruntime's are computed here with the same
comparison (same element type and shape; floats within rtol 1e-3, atol 1e-5; integers equal).

    tools/conformance.sh          # runs the Swift test, then this script
    .venv/bin/python tools/conformance.py [--results .build/conformance/results.tsv] [-o CONFORMANCE.md]
"""
import argparse
import collections
import glob
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

SUITE = "/usr/share/libonnx-testdata/data/node"


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def numbered(folder, prefix):
    files = glob.glob(os.path.join(folder, prefix + "*.pb"))
    return sorted(files, key=lambda p: int(os.path.basename(p)[len(prefix):-3]))


def matches(got, want):
    if got.dtype != want.dtype:
        return f"element type {got.dtype}, expected {want.dtype}"
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if want.dtype.kind == "f":
        ok = np.allclose(got, want, rtol=1e-3, atol=1e-5, equal_nan=True)
    else:
        ok = np.array_equal(got, want)
    return None if ok else "values differ"


def onnxruntime_outcome(case):
    folder = os.path.join(SUITE, case)
    data = os.path.join(folder, "test_data_set_0")
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(os.path.join(folder, "model.onnx"), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - any load failure is a refusal to run the model
        return "refused", str(e).split("\n")[0][:160]
    try:
        # Sequence and optional inputs are not TensorProtos; this harness feeds tensors only.
        inputs = {i.name: load_pb(p) for i, p in zip(session.get_inputs(), numbered(data, "input_"))}
        outputs = session.run(None, inputs)
    except Exception as e:  # noqa: BLE001
        return "error", str(e).split("\n")[0][:160]
    for k, (got, path) in enumerate(zip(outputs, numbered(data, "output_"))):
        try:
            want = load_pb(path)
        except Exception as e:  # noqa: BLE001 - a sequence output
            return "error", f"output {k} is not a tensor: {e}"[:160]
        diff = matches(np.asarray(got), want)
        if diff:
            return "wrong", f"output {k}: {diff}"
    return "pass", ""


def operator_of(case):
    """The operator a case tests: the one non-Constant operator of its model, or, for a function
    expanded into several operators, the operator named by the case (test_<op>_..._expanded)."""
    model = onnx.load(os.path.join(SUITE, case, "model.onnx"), load_external_data=False)
    ops = sorted({(n.domain + "." if n.domain else "") + n.op_type for n in model.graph.node} - {"Constant"})
    if len(ops) == 1:
        return ops[0], False
    return "expanded: " + case[len("test_"):].split("_expanded")[0], True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=".build/conformance/results.tsv")
    parser.add_argument("-o", "--output", default="CONFORMANCE.md")
    args = parser.parse_args()
    ours = {}
    with open(args.results) as f:
        next(f)
        for line in f:
            case, outcome, detail = (line.rstrip("\n").split("\t") + [""])[:3]
            ours[case] = (outcome, detail)
    cases = sorted(ours)
    table = collections.OrderedDict()
    reasons = collections.Counter()
    totals = collections.Counter()
    ort_totals = collections.Counter()
    for case in cases:
        op, _ = operator_of(case)
        outcome, detail = ours[case]
        theirs, _ = onnxruntime_outcome(case)
        row = table.setdefault(op, collections.Counter())
        row["cases"] += 1
        row[outcome] += 1
        row["ort_" + theirs] += 1
        totals[outcome] += 1
        ort_totals[theirs] += 1
        if outcome == "refused":
            reasons[refusal_kind(detail)] += 1

    lines = [
        "# Conformance: the ONNX backend node tests",
        "",
        "Every case of the ONNX project's backend node suite (Debian's `libonnx-testdata` 1.12: 932 cases, opsets 1-17),",
        "run through `yolo-compile run` by `ConformanceTests` and through onnxruntime (CPU) by `tools/conformance.py`,",
        "compared with the case's expected outputs: same element type and shape, floats within rtol 1e-3 and atol 1e-5,",
        "integers and booleans equal. yolo-compile *refuses* what it cannot compute exactly: exit status 1 and one line",
        "naming the node, the operator and the attribute or input. onnxruntime's *refused* means the session did not",
        "load, *error* that it failed while running. Regenerate with `tools/conformance.sh`.",
        "",
        f"**yolo-compile: {totals['pass']} pass, {totals['refused']} refused, {totals['wrong']} wrong, {totals['crash']} crash.**",
        f"onnxruntime {ort.__version__}: {ort_totals['pass']} pass, {ort_totals['refused']} refused, {ort_totals['error']} error, "
        f"{ort_totals['wrong']} wrong.",
        "",
        "## Why yolo-compile refuses",
        "",
        "| reason | cases |",
        "| --- | ---: |",
    ]
    for reason, n in reasons.most_common():
        lines.append(f"| {reason} | {n} |")
    lines += [
        "",
        "## Per operator",
        "",
        "| operator | cases | pass | refused | wrong | crash | onnxruntime pass | onnxruntime other |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for op in sorted(table, key=lambda o: (o.startswith("expanded"), o.lower())):
        r = table[op]
        other = r["ort_refused"] + r["ort_error"] + r["ort_wrong"]
        lines.append(f"| {op} | {r['cases']} | {r['pass']} | {r['refused']} | {r['wrong']} | {r['crash']} | {r['ort_pass']} | {other} |")
    lines.append("")
    with open(args.output, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.output}: yolo-compile {dict(totals)}, onnxruntime {dict(ort_totals)}")
    return 0


def refusal_kind(detail):
    """A refusal message reduced to its kind, for the summary."""
    text = detail.split("model.onnx: ", 1)[-1]
    if "operator " in text and "is not supported" in text:
        return "operator not implemented (" + text.split("operator ", 1)[1].split(" ", 1)[0] + ")"
    if "domain '" in text:
        return "operator in another domain (" + text.split("domain '", 1)[1].split("'", 1)[0] + ")"
    if "bfloat16" in text or "is string" in text:
        return "bfloat16 or string tensors"
    if "sequence" in text or "an optional" in text:
        return "sequence or optional values"
    if "training" in text:
        return "training mode (random numbers, batch statistics)"
    tail = text.split("): ", 1)[-1]
    return tail[:90]


if __name__ == "__main__":
    sys.exit(main())
