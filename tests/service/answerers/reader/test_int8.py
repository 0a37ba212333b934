"""int8 reader graphs made exact on CPUs without VNNI (service/answerers/reader/int8.py)."""
from __future__ import annotations

import numpy as np
import pytest

from service.answerers.reader import int8


def test_only_x86_cpus_without_vnni_need_the_exact_form():
    assert int8.needs_exact_int8({"sse4_2", "avx2", "fma"}, "x86_64")
    assert int8.needs_exact_int8({"avx2", "avx512f", "avx512bw"}, "x86_64")  # AVX-512 without VNNI saturates too
    assert not int8.needs_exact_int8({"avx2", "avx512f", "avx512_vnni"}, "x86_64")
    assert not int8.needs_exact_int8({"avx2", "avx_vnni"}, "x86_64")
    assert not int8.needs_exact_int8({"asimd"}, "aarch64")
    assert not int8.needs_exact_int8(set(), "x86_64")  # unknown flags: leave the graph alone


def _matmul_integer_graph(w: np.ndarray, zp: np.ndarray):
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("MatMulInteger", ["a", "w", "a_zp", "w_zp"], ["y"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, w.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [None, w.shape[1]])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(zp, "w_zp"),
                     numpy_helper.from_array(np.array(0, dtype=np.uint8), "a_zp")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_uint8_weights_give_the_exact_integer_product_even_where_int8_ones_saturate(tmp_path):
    import onnx
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, size=(64, 8), dtype=np.int8)
    w[:, 0] = 127  # with activations of 255, pairs of products overflow 16 bits (VPMADDUBSW)
    zp = np.zeros(8, dtype=np.int8)
    a = rng.integers(0, 256, size=(4, 64), dtype=np.uint8)
    a[0] = 255
    exact = a.astype(np.int64) @ w.astype(np.int64)
    model = _matmul_integer_graph(w, zp)
    assert int8.unsigned_weights(model) == 1
    init = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    assert init["w"].dtype == np.uint8 and init["w_zp"].dtype == np.uint8
    np.testing.assert_array_equal(init["w"].astype(np.int64) - init["w_zp"].astype(np.int64), w.astype(np.int64))
    path = tmp_path / "m.onnx"
    onnx.save(_matmul_integer_graph(w, zp), str(path))
    got = int8.session(path, ort.SessionOptions(), exact=True).run(None, {"a": a})[0]
    np.testing.assert_array_equal(got, exact)
    as_exported = int8.session(path, ort.SessionOptions(), exact=False).run(None, {"a": a})[0]
    if int8.needs_exact_int8():  # why the conversion exists: this CPU's int8 kernel saturates
        assert not np.array_equal(as_exported, exact)
    else:
        np.testing.assert_array_equal(as_exported, exact)
    assert int8.unsigned_weights(model) == 0  # already converted: nothing left to do


@pytest.mark.parametrize("exact", [True, None])
def test_the_shipped_second_stage_reads_on_this_cpu(exact):
    """On an AVX2 CPU the int8 graph as exported scored every span the same; in the exact form (what
    this CPU gets by default) it finds the answer."""
    from service.answerers.reader.model import SECOND_DIR, ReaderModel

    m = ReaderModel(SECOND_DIR)
    if exact:
        import onnxruntime as ort

        m._session = int8.session(SECOND_DIR / "model.onnx", ort.SessionOptions(), exact=True)
    passage = "The Normans settled in Normandy in 911. Rollo was their first ruler. They spoke Norman French."
    spans = m.run_many([("When did the Normans settle in Normandy?", [passage]),
                        ("Who was the first ruler of the Normans?", [passage])])
    assert passage[spans[0][0].start:spans[0][0].end] == "911"
    assert "Rollo" in passage[spans[1][0].start:spans[1][0].end]
    assert spans[0][0].margin > 1.0
