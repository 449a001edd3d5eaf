"""Every operator declaration (`yolo-compile operators --json`) checked against the ONNX specification's
own schemas (onnx.defs): the versions it implements leave no ONNX version out in the opsets it reads, its
attributes are ONNX's with ONNX's types and defaults, and its inputs are ONNX's, in ONNX's order."""
import json
import subprocess

import onnx.defs
import pytest

from test_peers import BIN

NEWEST_READ = 21
KINDS = {
    onnx.defs.OpSchema.AttrType.INT: "int",
    onnx.defs.OpSchema.AttrType.INTS: "ints",
    onnx.defs.OpSchema.AttrType.FLOAT: "float",
    onnx.defs.OpSchema.AttrType.FLOATS: "floats",
    onnx.defs.OpSchema.AttrType.STRING: "string",
    onnx.defs.OpSchema.AttrType.STRINGS: "strings",
    onnx.defs.OpSchema.AttrType.TENSOR: "tensor",
}
# Attributes of the newest version that a declaration leaves out on purpose (a node using one is refused).
LEFT_OUT = {}


def declarations():
    out = subprocess.run([BIN, "operators", "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


DECLARED = declarations()


def history(name):
    return sorted((s for s in onnx.defs.get_all_schemas_with_history() if s.name == name and s.domain in ("", "ai.onnx")),
                  key=lambda s: s.since_version)


def test_declares_every_operator_of_the_issue():
    wanted = """AveragePool Dropout ConstantOfShape Expand Where Equal Less Greater LessOrEqual GreaterOrEqual Not And Or
    Range Tile Floor Ceil Round Mod Min Max Sum Mean Log PRelu Resize ScatterND GatherElements GatherND TopK ArgMax
    ArgMin ReduceMax ReduceMin ReduceSum ReduceProd ReduceL2 ReduceLogSumExp NonMaxSuppression NonZero CumSum Einsum
    InstanceNormalization GroupNormalization LRN DepthToSpace SpaceToDepth Conv ConvTranspose MaxPool""".split()
    assert [w for w in wanted if w not in DECLARED] == []
    assert len(DECLARED) >= 130


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_declaration_matches_onnx(name):
    ours = DECLARED[name]
    schemas = history(name)
    assert schemas, f"{name} is not an ONNX operator"
    first = ours["versions"][0]
    last_read = (ours["removed_at"] or NEWEST_READ + 1) - 1
    # Every ONNX version in effect at an opset we read is one the declaration implements.
    in_range = [s.since_version for s in schemas if s.since_version <= last_read]
    effective = [v for v in in_range if v >= first] or in_range[-1:]
    older = [v for v in in_range if v < first]
    if older:  # the version in effect at the first opset read may be older than `first`
        effective = sorted(set(effective) | {older[-1]} if first not in in_range else set(effective))
    assert sorted(set(effective) - set(ours["versions"])) == [], f"{name}: ONNX versions not declared"
    assert set(ours["versions"]) <= {s.since_version for s in schemas}, f"{name}: versions ONNX does not have"
    newest = [s for s in schemas if s.since_version <= last_read][-1]
    names_over_range = set()
    for s in schemas:
        if first <= s.since_version <= last_read or s is newest:
            names_over_range |= set(s.attributes)
    for attr, spec in ours["attributes"].items():
        assert attr in names_over_range, f"{name}: attribute {attr} is not ONNX's"
        theirs = newest.attributes.get(attr) or next(s.attributes[attr] for s in reversed(schemas) if attr in s.attributes)
        assert KINDS.get(theirs.type) == spec["kind"], f"{name}.{attr}: {spec['kind']}, ONNX has {theirs.type}"
        if "default" in spec and theirs.default_value.name:
            d = onnx.helper.get_attribute_value(theirs.default_value)
            if isinstance(d, bytes):
                d = d.decode()
            if isinstance(d, float):
                assert spec["default"] == pytest.approx(d, rel=1e-6), f"{name}.{attr}: default {spec['default']}, ONNX {d}"
            else:
                assert spec["default"] == d, f"{name}.{attr}: default {spec['default']}, ONNX {d}"
    missing = set(newest.attributes) - set(ours["attributes"]) - set(LEFT_OUT.get(name, []))
    assert missing == set(), f"{name}: ONNX attributes the declaration leaves out: {sorted(missing)}"
    assert [i["name"] for i in ours["inputs"]] == [i.name for i in newest.inputs], f"{name}: inputs differ from ONNX's"
