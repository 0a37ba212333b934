"""int8 reader graphs that give the same numbers on every x86 CPU.

ONNX Runtime's dynamic quantization stores weights as int8 and quantizes activations to uint8.
On CPUs with AVX-512 VNNI (or AVX-VNNI) the uint8 x int8 products are summed in 32 bits. On
CPUs without it (AVX2, plain AVX-512) ONNX Runtime uses VPMADDUBSW, which sums pairs of
products into 16 bits and saturates. For the 12-layer second stage this was fatal: on an AVX2
machine every re-read passage scored the same, so every question the gate sent it was
abstained on. The MiniLM first stage lost less.

Adding 128 to every int8 weight and to its zero point gives a uint8 weight with the same
dequantized value ((w + 128) - (z + 128) = w - z). ONNX Runtime multiplies uint8 by uint8
without that overflow. The result is exact on every CPU, at some speed on CPUs that lack VNNI.
So a graph is converted, in memory, only on such a CPU. The file on disk stays as it was
exported, and a VNNI CPU keeps the faster kernel.
"""
from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

_VNNI = ("avx512_vnni", "avx_vnni", "amx_int8")


@lru_cache(maxsize=1)  # every reader session asks; the CPU does not change
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def needs_exact_int8(flags: frozenset[str] | set[str] | None = None, machine: str | None = None) -> bool:
    """True on an x86 CPU whose int8 products saturate (no VNNI). Other CPUs are left alone."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64", "i686", "x86"):
        return False
    flags = cpu_flags() if flags is None else flags
    return bool(flags) and not any(f in flags for f in _VNNI)


def unsigned_weights(model) -> int:
    """Pure over an onnx ModelProto: every int8 weight of a MatMulInteger node (and its zero
    point) becomes uint8 holding the same dequantized value. Returns how many were converted."""
    import numpy as np
    from onnx import numpy_helper

    init = {i.name: i for i in model.graph.initializer}
    done = 0
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or len(node.input) < 4:
            continue
        w, zp = init.get(node.input[1]), init.get(node.input[3])
        if w is None or zp is None:
            continue
        wv, zv = numpy_helper.to_array(w), numpy_helper.to_array(zp)
        if wv.dtype != np.int8 or zv.dtype != np.int8:
            continue
        w.CopyFrom(numpy_helper.from_array((wv.astype(np.int16) + 128).astype(np.uint8), w.name))
        zp.CopyFrom(numpy_helper.from_array((zv.astype(np.int16) + 128).astype(np.uint8), zp.name))
        done += 1
    return done


def session(path: Path, opts, exact: bool | None = None):
    """An ONNX Runtime session on the graph at `path` (its external data beside it), converted
    to uint8 weights first where this CPU needs it (`exact`: None asks the CPU)."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if not (needs_exact_int8() if exact is None else exact):
        return ort.InferenceSession(str(path), opts, providers=providers)
    import onnx

    model = onnx.load(str(path))  # reads model.onnx.data too
    if not unsigned_weights(model):
        return ort.InferenceSession(str(path), opts, providers=providers)
    return ort.InferenceSession(model.SerializeToString(), opts, providers=providers)
