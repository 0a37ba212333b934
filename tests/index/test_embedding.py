"""The embedder's backends: ONNX Runtime (default) and torch give the same vectors."""
import numpy as np
import pytest

from index.embedding import Embedder
from service.settings import Settings

TEXTS = ["When did real-time missile-data sharing start?",
         "Continually, the three countries continue to deepen trilateral defense cooperation, agreeing to start "
         "sharing real-time missile-warning data from December 2023.", "Tokyo", ""]


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder.from_settings(Settings(embed_backend="torch"))


def test_default_backend_is_onnx_and_matches_torch(embedder, torch_embedder):
    assert embedder.backend == "onnx" and torch_embedder.backend == "torch"
    a, b = embedder.encode(TEXTS, progress=False), torch_embedder.encode(TEXTS, progress=False)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.9999
    # batching and order do not change a vector
    assert np.allclose(embedder.encode(TEXTS[::-1], progress=False)[::-1], a, atol=1e-5)


def test_exported_model_is_cached_and_reused(tmp_path):
    s = Settings(onnx_cache_dir=tmp_path)
    first = Embedder.from_settings(s)
    [f] = list(tmp_path.glob("*.onnx"))
    stamp = f.stat().st_mtime_ns
    second = Embedder.from_settings(s)
    assert f.stat().st_mtime_ns == stamp and not list(tmp_path.glob("*.tmp"))
    assert np.allclose(first.encode(TEXTS[:2], progress=False), second.encode(TEXTS[:2], progress=False))


def test_int8_and_unknown_backends(tmp_path):
    assert Embedder.from_settings(Settings(embed_quantize=True, onnx_cache_dir=tmp_path)).backend == "torch"
    with pytest.raises(ValueError, match="backend"):
        Embedder(Settings().resolved_model_path(), backend="tensorrt")


def test_onnx_backend_refuses_a_model_it_cannot_run(monkeypatch, tmp_path):
    import index.onnx_runtime as ox

    monkeypatch.setattr(ox, "_pooling", lambda m: (_ for _ in ()).throw(ox.Unsupported("pooling mode 'max'")))
    with pytest.raises(ValueError, match="pooling mode"):
        Embedder.from_settings(Settings(embed_backend="onnx", onnx_cache_dir=tmp_path))
    assert Embedder.from_settings(Settings(embed_backend="auto", onnx_cache_dir=tmp_path)).backend == "torch"


def test_an_unwritable_cache_falls_back_to_torch(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    e = Embedder.from_settings(Settings(onnx_cache_dir=blocker / "onnx"))
    assert e.backend == "torch" and e.encode(["x"], progress=False).shape == (1, 384)
