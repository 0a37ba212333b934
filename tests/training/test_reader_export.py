"""A reader graph too large for one file is split, with the same outputs (training/reader/export.py)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from training.reader.export import DATA_NAME, split_large


def _graph(path, rows=4000, dim=256):
    """An embedding lookup: a 4 MB table gathered by ids, the shape of a reader's largest tensor."""
    table = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    node = helper.make_node("Gather", ["table", "ids"], ["out"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [None])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, dim])],
                              [numpy_helper.from_array(table, "table")])
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


def _run(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"ids": np.array([0, 7, 3999])})[0]


def test_a_graph_over_the_limit_moves_its_large_tensors_beside_it_with_the_same_outputs(tmp_path):
    path = tmp_path / "model.onnx"
    _graph(path)
    before = _run(path)
    assert not split_large(path, max_bytes=8_000_000)  # under the limit: left as it is
    assert not (tmp_path / DATA_NAME).exists()
    assert split_large(path, max_bytes=1_000_000, tensor_bytes=1_000_000)
    assert path.stat().st_size < 100_000 and (tmp_path / DATA_NAME).stat().st_size >= 4000 * 256 * 4
    np.testing.assert_array_equal(_run(path), before)
