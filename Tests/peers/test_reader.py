"""The ONNX reader and interpreter on hand-made models for the paths the backend node tests miss: older
opsets' semantics, values from graph inputs where a constant is usual, numerically delicate formulas,
and the refusals (one line naming the node, the operator and the attribute or input). Each answer is
compared with the ONNX reference evaluator (onnx.reference), the specification's own implementation."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from test_peers import cli


def model(nodes, inputs, outputs, opset, initializers=()):
    graph = helper.make_graph(nodes, "m", inputs, outputs, initializer=list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7 if opset < 15 else 8
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def run_ours(tmp_path, m, feeds):
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    for old in tmp_path.glob("y*.npy"):
        old.unlink()
    args = ["run", path, "-o", tmp_path / "y.npy"]
    for k, v in enumerate(feeds):
        np.save(tmp_path / f"x{k}.npy", v)
        args += ["--input", tmp_path / f"x{k}.npy"]
    r = cli(*args, check=False)
    if r.returncode != 0:
        return None, r.stderr.strip()
    outs = [np.load(tmp_path / "y.npy")]
    k = 1
    while (tmp_path / f"y.{k}.npy").exists():
        outs.append(np.load(tmp_path / f"y.{k}.npy"))
        k += 1
    return outs, ""


def reference(m, feeds):
    names = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    return ReferenceEvaluator(m).run(None, dict(zip(names, feeds)))


def assert_same(tmp_path, m, feeds, rtol=1e-5, atol=1e-6):
    ours, err = run_ours(tmp_path, m, feeds)
    assert ours is not None, err
    want = reference(m, feeds)
    assert len(ours) >= len(want)
    for a, b in zip(ours, want):
        b = np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        if b.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(a, b)


def assert_refused(tmp_path, m, feeds, *fragments):
    ours, err = run_ours(tmp_path, m, feeds)
    assert ours is None, "expected a refusal"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], lines[0]
    assert not (tmp_path / "y.npy").exists()


X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7 - 1


def test_shape_start_and_end(tmp_path):
    m = model([helper.make_node("Shape", ["x"], ["s"], start=1, end=-1)], [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("s", TensorProto.INT64, None)], 15)
    assert_same(tmp_path, m, [X])


def test_split_sizes_from_a_graph_input(tmp_path):
    m = model([helper.make_node("Split", ["x", "n"], ["a", "b"], axis=2)],
              [vi("x", TensorProto.FLOAT, [2, 3, 4]), vi("n", TensorProto.INT64, [2])],
              [vi("a", TensorProto.FLOAT, None), vi("b", TensorProto.FLOAT, None)], 13)
    assert_same(tmp_path, m, [X, np.array([1, 3], np.int64)])


def test_squeeze_axes_from_a_graph_input(tmp_path):
    x = np.ones((1, 3, 1, 2), np.float32)
    m = model([helper.make_node("Squeeze", ["x", "axes"], ["y"])],
              [vi("x", TensorProto.FLOAT, [1, 3, 1, 2]), vi("axes", TensorProto.INT64, [1])], [vi("y", TensorProto.FLOAT, None)], 13)
    assert_same(tmp_path, m, [x, np.array([2], np.int64)])


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_softmax_family_before_opset_13_flattens(tmp_path, op, axis):
    """Before opset 13 the input is flattened to 2-D at `axis` and normalised over all the axes from it on.
    (onnx.reference applies opset 13's per-axis form here; onnxruntime agrees with the definition below.)"""
    m = model([helper.make_node(op, ["x"], ["y"], axis=axis)], [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("y", TensorProto.FLOAT, None)], 11)
    ours, err = run_ours(tmp_path, m, [X])
    assert ours is not None, err
    a = axis % 3
    flat = X.reshape(int(np.prod(X.shape[:a])), -1).astype(np.float64)
    if op == "Hardmax":
        want = np.eye(flat.shape[1])[flat.argmax(axis=1)]
    else:
        e = np.exp(flat - flat.max(axis=1, keepdims=True))
        want = e / e.sum(axis=1, keepdims=True)
        if op == "LogSoftmax":
            want = np.log(want)
    np.testing.assert_allclose(ours[0], want.reshape(X.shape), rtol=1e-5, atol=1e-6)


def test_opset_9_upsample_and_opset_10_resize(tmp_path):
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 3])
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    up = model([helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")], [vi("x", TensorProto.FLOAT, [1, 2, 2, 2])],
               [vi("y", TensorProto.FLOAT, None)], 9, [scales])
    assert_same(tmp_path, up, [x])
    ours, err = run_ours(tmp_path, model([helper.make_node("Resize", ["x", "scales"], ["y"], mode="nearest")],
                                         [vi("x", TensorProto.FLOAT, [1, 2, 2, 2])], [vi("y", TensorProto.FLOAT, None)], 10, [scales]), [x])
    assert ours is not None, err
    np.testing.assert_array_equal(ours[0], x.repeat(2, axis=2).repeat(3, axis=3))
    down = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 0.5, 0.5])
    assert_refused(tmp_path, model([helper.make_node("Upsample", ["x", "scales"], ["y"], name="up")], [vi("x", TensorProto.FLOAT, [1, 2, 2, 2])],
                                   [vi("y", TensorProto.FLOAT, None)], 9, [down]), [x], "node up (Upsample)", "downsample")


def test_attributes_that_became_inputs(tmp_path):
    x = np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4)
    cases = [
        (helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=0.5), 6),
        (helper.make_node("Pad", ["x"], ["y"], pads=[0, 1, 0, 0, 2, 1], value=2.5), 2),
        (helper.make_node("Slice", ["x"], ["y"], starts=[1, -3], ends=[3, 100], axes=[1, 2]), 1),
        (helper.make_node("ReduceSum", ["x"], ["y"], axes=[0, 2], keepdims=0), 11),
        (helper.make_node("ReduceMax", ["x"], ["y"], axes=[-1]), 13),
        (helper.make_node("Squeeze", ["x"], ["y"], axes=[0]), 11),
    ]
    for node, opset in cases:
        xx = x[:1] if node.op_type == "Squeeze" else x
        m = model([node], [vi("x", TensorProto.FLOAT, list(xx.shape))], [vi("y", TensorProto.FLOAT, None)], opset)
        assert_same(tmp_path, m, [xx])


def test_topk_before_opset_10(tmp_path):
    m = model([helper.make_node("TopK", ["x"], ["v", "i"], k=2, axis=1)], [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("v", TensorProto.FLOAT, None), vi("i", TensorProto.INT64, None)], 1)
    ours, err = run_ours(tmp_path, m, [X])
    assert ours is not None, err
    np.testing.assert_array_equal(ours[0], np.sort(X, axis=1)[:, ::-1][:, :2])
    np.testing.assert_array_equal(ours[1], np.argsort(-X, axis=1, kind="stable")[:, :2])


def test_inference_dropout_and_batchnorm_of_older_opsets(tmp_path):
    m = model([helper.make_node("Dropout", ["x"], ["y"], ratio=0.3)], [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("y", TensorProto.FLOAT, None)], 7)
    ours, err = run_ours(tmp_path, m, [X])
    assert ours is not None, err
    np.testing.assert_array_equal(ours[0], X)
    stats = [helper.make_tensor(n, TensorProto.FLOAT, [3], v) for n, v in
             [("g", [1, 2, 3]), ("b", [0, 1, 0]), ("mu", [0.5, 0, -1]), ("var", [1, 4, 0.25])]]
    bn = model([helper.make_node("BatchNormalization", ["x", "g", "b", "mu", "var"], ["y"], spatial=1, epsilon=1e-3)],
               [vi("x", TensorProto.FLOAT, [2, 3, 4])], [vi("y", TensorProto.FLOAT, None)], 7, stats)
    ours, err = run_ours(tmp_path, bn, [X])
    assert ours is not None, err
    g, b, mu, var = (np.array(v, np.float32).reshape(1, 3, 1) for v in ([1, 2, 3], [0, 1, 0], [0.5, 0, -1], [1, 4, 0.25]))
    np.testing.assert_allclose(ours[0], (X - mu) / np.sqrt(var + 1e-3) * g + b, rtol=1e-6, atol=1e-6)
    training = model([helper.make_node("BatchNormalization", ["x", "g", "b", "mu", "var"], ["y"], name="bn", spatial=0)],
                     [vi("x", TensorProto.FLOAT, [2, 3, 4])], [vi("y", TensorProto.FLOAT, None)], 7, stats)
    assert_refused(tmp_path, training, [X], "node bn (BatchNormalization)", "'spatial'")


def test_integer_arithmetic_wraps_and_divides_toward_zero(tmp_path):
    a = np.array([-7, 7, -7, np.iinfo(np.int64).min, 5], np.int64)
    b = np.array([2, -2, -2, -1, 3], np.int64)
    for op, kw in [("Div", {}), ("Mod", {"fmod": 0}), ("Mod", {"fmod": 1})]:
        m = model([helper.make_node(op, ["a", "b"], ["y"], **kw)], [vi("a", TensorProto.INT64, [5]), vi("b", TensorProto.INT64, [5])],
                  [vi("y", TensorProto.INT64, None)], 13)
        ours, err = run_ours(tmp_path, m, [a, b])
        assert ours is not None, err
        if op == "Div":
            np.testing.assert_array_equal(ours[0], [-3, -3, 3, np.iinfo(np.int64).min, 1])
        elif kw["fmod"] == 0:
            np.testing.assert_array_equal(ours[0], [1, -1, -1, 0, 2])
        else:
            np.testing.assert_array_equal(ours[0], [-1, 1, -1, 0, 2])
    zero = model([helper.make_node("Div", ["a", "b"], ["y"], name="d")], [vi("a", TensorProto.INT64, [5]), vi("b", TensorProto.INT64, [5])],
                 [vi("y", TensorProto.INT64, None)], 13)
    assert_refused(tmp_path, zero, [a, np.zeros(5, np.int64)], "node d (Div)", "by zero")


def test_delicate_formulas(tmp_path):
    x = np.array([-1000, -30, -1, 0, 1, 30, 89, 100, 1000], np.float32)
    for op in ["Softplus", "Sigmoid", "Mish"]:
        m = model([helper.make_node(op, ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [9])], [vi("y", TensorProto.FLOAT, None)], 18)
        ours, err = run_ours(tmp_path, m, [x])
        assert ours is not None, err
        assert np.isfinite(ours[0]).all(), (op, ours[0])  # log(1 + e^1000) is 1000, not inf
        assert ours[0][-1] == pytest.approx(1000 if op != "Sigmoid" else 1)
    m = model([helper.make_node("Round", ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [6])], [vi("y", TensorProto.FLOAT, None)], 11)
    ours, _ = run_ours(tmp_path, m, [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4], np.float32)])
    np.testing.assert_array_equal(ours[0], [0, 2, 2, -0, -2, 2])  # halves to even
    lse = model([helper.make_node("ReduceLogSumExp", ["x"], ["y"], keepdims=0)], [vi("x", TensorProto.FLOAT, [9])],
                [vi("y", TensorProto.FLOAT, None)], 13)
    ours, _ = run_ours(tmp_path, lse, [x])
    assert ours[0] == pytest.approx(1000)


def test_float16_rounds_every_operation(tmp_path):
    x = (np.arange(12, dtype=np.float16) / np.float16(3)).reshape(3, 4)
    m = model([helper.make_node("Mul", ["x", "x"], ["a"]), helper.make_node("Add", ["a", "x"], ["y"])],
              [vi("x", TensorProto.FLOAT16, [3, 4])], [vi("y", TensorProto.FLOAT16, None)], 13)
    ours, err = run_ours(tmp_path, m, [x])
    assert ours is not None, err
    assert ours[0].dtype == np.float16
    np.testing.assert_array_equal(ours[0], x * x + x)


def test_refusals_name_node_operator_and_attribute(tmp_path):
    x = vi("x", TensorProto.FLOAT, [1, 2, 4, 4])
    cases = [
        (helper.make_node("Conv", ["x", "w"], ["y"], name="c", kernel_shape=[3, 3], weird=1), "node c (Conv): attribute 'weird' is not one Conv defines"),
        (helper.make_node("Resize", ["x", "", "s"], ["y"], name="r", mode="area"), "node r (Resize): attribute 'mode' is 'area'"),
        (helper.make_node("Mod", ["x", "x"], ["y"], name="m"), "node m (Mod): attribute 'fmod' must be 1 for floating-point inputs"),
        (helper.make_node("Cast", ["x"], ["y"], name="t", to=TensorProto.BFLOAT16), "node t (Cast): attribute 'to' is bfloat16"),
        (helper.make_node("Gelu", ["x"], ["y"], name="g"), "node g (Gelu): Gelu before opset 20 is not supported"),
    ]
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 3, 3], np.zeros(36, np.float32))
    s = helper.make_tensor("s", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    for node, message in cases:
        m = model([node], [x], [vi("y", TensorProto.FLOAT, None)], 17, [w, s])
        assert_refused(tmp_path, m, [np.zeros((1, 2, 4, 4), np.float32)], message)
    cast = model([helper.make_node("Cast", ["x"], ["y"], name="k", to=TensorProto.INT32)], [vi("x", TensorProto.FLOAT, [2])],
                 [vi("y", TensorProto.INT32, None)], 13)
    assert_refused(tmp_path, cast, [np.array([1, np.nan], np.float32)], "node k (Cast)", "undefined")


def test_a_model_without_inputs_runs(tmp_path):
    value = helper.make_tensor("v", TensorProto.FLOAT, [2, 2], [1, 2, 3, 4])
    m = model([helper.make_node("Constant", [], ["c"], value=value), helper.make_node("Relu", ["c"], ["y"])], [],
              [vi("y", TensorProto.FLOAT, [2, 2])], 13)
    ours, err = run_ours(tmp_path, m, [])
    assert ours is not None, err
    np.testing.assert_array_equal(ours[0], [[1, 2], [3, 4]])


@pytest.mark.parametrize("batch,height,width", [(1, 320, 320), (2, 256, 416), (1, 640, 192)])
def test_torch_dynamic_axes_export_matches_onnxruntime_at_any_size(tmp_path, batch, height, width):
    from test_peers import ROOT, ort_session
    path = ROOT / "Tests/YoloCompileTests/Fixtures/torch-exports/yolov5n-dynamic.opset17.onnx"
    rng = np.random.default_rng(batch * height + width)
    x = rng.random((batch, 3, height, width), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    cli("run", path, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    ours = np.load(tmp_path / "y.npy")
    peer = ort_session(path).run(None, {"images": x})[0]
    assert ours.shape == peer.shape == (batch, 3 * (height * width // 64 + height * width // 256 + height * width // 1024), 85)
    assert np.abs(ours - peer).max() / np.abs(peer).max() < 1e-5


@pytest.mark.parametrize("op", ["ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceSum", "ReduceMax"])
def test_reduce_with_noop_for_empty_axes_still_maps_each_element(tmp_path, op):
    """Opset 18: no axes with noop_with_empty_axes=1 reduces nothing, yet ReduceSumSquare squares and
    ReduceLogSum takes the log of each element."""
    x = np.array([[2, 1, 3], [0.5, 4, 0.25]], np.float32)
    m = model([helper.make_node(op, ["x"], ["y"], noop_with_empty_axes=1)], [vi("x", TensorProto.FLOAT, [2, 3])],
              [vi("y", TensorProto.FLOAT, None)], 18)
    assert_same(tmp_path, m, [x])


def test_nan_is_ordered_as_numpy_orders_it(tmp_path):
    x = np.array([[np.inf, 1.88, -0.94, -0.53, np.nan, 1.5]], np.float32)
    k = helper.make_tensor("k", TensorProto.INT64, [1], [4])
    for largest in (1, 0):
        m = model([helper.make_node("TopK", ["x", "k"], ["v", "i"], largest=largest)], [vi("x", TensorProto.FLOAT, [1, 6])],
                  [vi("v", TensorProto.FLOAT, None), vi("i", TensorProto.INT64, None)], 11, [k])
        assert_same(tmp_path, m, [x])
    celu = model([helper.make_node("Celu", ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [1, 6])], [vi("y", TensorProto.FLOAT, None)], 12)
    assert_same(tmp_path, celu, [x])


def test_what_runtimes_disagree_on_is_refused(tmp_path):
    """SAME padding that would be negative in pooling (the reference shifts the windows, onnxruntime
    refuses), and ConvTranspose output_shape padding that the ONNX text splits and the runtimes put at the end."""
    x = np.arange(42, dtype=np.float32).reshape(1, 1, 6, 7)
    pool = model([helper.make_node("MaxPool", ["x"], ["y"], name="p", auto_pad="SAME_UPPER", kernel_shape=[1, 1], strides=[3, 2])],
                 [vi("x", TensorProto.FLOAT, [1, 1, 6, 7])], [vi("y", TensorProto.FLOAT, None)], 11)
    assert_refused(tmp_path, pool, [x], "node p (MaxPool): auto_pad SAME_UPPER would pad axis 0 by -2")
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3, 2], np.ones(6, np.float32))
    ct = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="t", strides=[3, 3], output_shape=[6, 4])],
               [vi("x", TensorProto.FLOAT, [1, 1, 2, 1])], [vi("y", TensorProto.FLOAT, None)], 14, [w])
    assert_refused(tmp_path, ct, [np.ones((1, 1, 2, 1), np.float32)], "node t (ConvTranspose): output_shape [6, 4] needs a padding of -2 on axis 1")


def test_npy_inputs_in_fortran_order_and_big_endian(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    m = model([helper.make_node("Identity", ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [2, 3, 4])], [vi("y", TensorProto.FLOAT, None)], 13)
    for variant in (np.asfortranarray(x), x.astype(">f4"), np.asfortranarray(x.astype(">f4"))):
        ours, err = run_ours(tmp_path, m, [variant])
        assert ours is not None, err
        np.testing.assert_array_equal(ours[0], x)


def test_second_probe_findings(tmp_path):
    """Clip's absent bounds are the type's finite range (infinities clip); an Einsum ellipsis of size 1
    broadcasts against 0; GroupNormalization-18 takes a symbolic channel count; MaxPool refuses NaN."""
    x = np.array([-np.inf, -1, 2, np.inf], np.float32)
    clip = model([helper.make_node("Clip", ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [4])], [vi("y", TensorProto.FLOAT, None)], 6)
    ours, err = run_ours(tmp_path, clip, [x])
    assert ours is not None, err
    np.testing.assert_array_equal(ours[0], [-np.finfo(np.float32).max, -1, 2, np.finfo(np.float32).max])
    ein = model([helper.make_node("Einsum", ["a", "b"], ["y"], equation="...,...->...")],
                [vi("a", TensorProto.FLOAT, [1]), vi("b", TensorProto.FLOAT, [0])], [vi("y", TensorProto.FLOAT, None)], 12)
    ours, err = run_ours(tmp_path, ein, [np.ones(1, np.float32), np.ones(0, np.float32)])
    assert ours is not None and ours[0].shape == (0,), err
    gn = model([helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)],
               [vi("x", TensorProto.FLOAT, [2, "C", 3]), vi("s", TensorProto.FLOAT, [2]), vi("b", TensorProto.FLOAT, [2])],
               [vi("y", TensorProto.FLOAT, None)], 18)
    xs = np.random.default_rng(3).standard_normal((2, 4, 3)).astype(np.float32)
    s, b = np.array([1.5, -2], np.float32), np.array([0.1, 0.2], np.float32)
    ours, err = run_ours(tmp_path, gn, [xs, s, b])
    assert ours is not None, err
    groups = xs.reshape(2, 2, -1)
    norm = ((groups - groups.mean(-1, keepdims=True)) / np.sqrt(groups.var(-1, keepdims=True) + 1e-5)).reshape(2, 2, 2, 3)
    np.testing.assert_allclose(ours[0], (norm * s.reshape(1, 2, 1, 1) + b.reshape(1, 2, 1, 1)).reshape(2, 4, 3), rtol=1e-5, atol=1e-5)
    pool = model([helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2])], [vi("x", TensorProto.FLOAT, [1, 1, 3])],
                 [vi("y", TensorProto.FLOAT, None)], 12)
    assert_refused(tmp_path, pool, [np.array([[[np.nan, 1, 2]]], np.float32)], "node mp (MaxPool): a window holds NaN")
