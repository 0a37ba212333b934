"""The embedder's backends: ONNX Runtime (default) and torch give the same vectors."""
import numpy as np
import pytest

from index.embedding.embedder import Embedder
from service.config import Settings

TEXTS = ["When did real-time missile-data sharing start?",
         "Continually, the three countries continue to deepen trilateral defense cooperation, agreeing to start "
         "sharing real-time missile-warning data from December 2023.", "Tokyo", ""]


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder.from_config(Settings(embed_backend="torch", embed_quantize=False).embedder_config())


def test_default_backend_is_onnx_and_matches_torch(torch_embedder):
    embedder = Embedder.from_config(Settings(embed_quantize=False).embedder_config())  # fp32: the same vectors as torch
    assert embedder.backend == "onnx" and torch_embedder.backend == "torch"
    a, b = embedder.encode(TEXTS, progress=False), torch_embedder.encode(TEXTS, progress=False)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.9999
    # batching and order do not change a vector
    assert np.allclose(embedder.encode(TEXTS[::-1], progress=False)[::-1], a, atol=1e-5)


def test_exported_model_is_cached_and_reused(tmp_path):
    s = Settings(onnx_cache_dir=tmp_path)
    first = Embedder.from_config(s.embedder_config())
    [f] = [p for p in tmp_path.glob("*.onnx") if not p.stem.endswith("-int8")]
    assert list(tmp_path.glob("*-int8.onnx"))  # the default int8 copy, made from it once
    stamp = f.stat().st_mtime_ns
    second = Embedder.from_config(s.embedder_config())
    assert f.stat().st_mtime_ns == stamp and not list(tmp_path.glob("*.tmp"))
    assert np.allclose(first.encode(TEXTS[:2], progress=False), second.encode(TEXTS[:2], progress=False))


def test_int8_and_unknown_backends(tmp_path):
    # int8 on ONNX Runtime by default; on torch (its own dynamic quantization) when asked for
    assert Embedder.from_config(Settings(embed_quantize=True, onnx_cache_dir=tmp_path).embedder_config()).backend == "onnx"
    torch8 = Embedder.from_config(Settings(embed_quantize=True, embed_backend="torch").embedder_config())
    assert torch8.backend == "torch" and torch8.model_name.endswith("+int8")
    with pytest.raises(ValueError, match="backend"):
        Embedder(Settings().resolved_model_path(), backend="tensorrt")


def test_onnx_backend_refuses_a_model_it_cannot_run(monkeypatch, tmp_path):
    import index.embedding.onnx_runtime as ox

    monkeypatch.setattr(ox, "layout", lambda d: (_ for _ in ()).throw(ox.Unsupported("pooling mode 'max'")))
    with pytest.raises(ValueError, match="pooling mode"):
        Embedder.from_config(Settings(embed_backend="onnx", onnx_cache_dir=tmp_path).embedder_config())
    assert Embedder.from_config(Settings(embed_backend="auto", onnx_cache_dir=tmp_path).embedder_config()).backend == "torch"


def test_an_unwritable_cache_falls_back_to_torch(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    e = Embedder.from_config(Settings(onnx_cache_dir=blocker / "onnx").embedder_config())
    assert e.backend == "torch" and e.encode(["x"], progress=False).shape == (1, 384)


# ---- late chunking and int8 (issue 13's throughput levers) ------------------------------------
LATE_TEXT = ("Seoul talks\nThe defense ministers met in Seoul on Tuesday. They agreed to share missile warning "
             "data from December. Japan joined the talks later.")


def _spans(text):
    import re

    return [(m.start(), m.end()) for m in re.finditer(r"[^.\n]+\.", text)]


def test_late_chunk_span_vectors_come_from_the_text_pass(embedder):
    if not embedder.can_late_chunk:
        pytest.skip("late chunking needs the ONNX backend")
    spans = _spans(LATE_TEXT)
    text_vecs, span_vecs = embedder.encode_spans([LATE_TEXT, "Short one. Two."], [spans, [(0, 10)]])
    assert np.allclose(text_vecs, embedder.encode([LATE_TEXT, "Short one. Two."]), atol=1e-5)
    assert len(span_vecs[0]) == len(spans) and all(abs(np.linalg.norm(v) - 1) < 1e-4 for v in span_vecs[0])
    # each span vector is about its own sentence: the question about the data matches the data sentence
    q = embedder.encode(["When will missile warning data be shared?"])[0]
    assert int(np.argmax([q @ v for v in span_vecs[0]])) == 1
    # a span the model's window cut off has no vector (the caller embeds it on its own)
    long_text = "word " * 400 + "The end."
    _, cut = embedder.encode_spans([long_text], [[(len(long_text) - 8, len(long_text))]])
    assert cut == [[None]]


def _span_mean_reference(hidden, offsets, mask, spans, normalize):
    """The per-span loop span_means replaced, kept as the reference it must equal."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = (ends > starts) & (mask > 0)
    out = []
    for s, e in spans:
        sel = real & (starts >= s) & (ends <= e)
        if not sel.any() or ends[real].max() < e - 1:
            out.append(None)
            continue
        v = hidden[sel].mean(axis=0)
        out.append(v / np.linalg.norm(v) if normalize else v)
    return out


def test_span_means_equal_the_per_span_mean():
    from index.embedding.onnx_runtime import span_means

    rng = np.random.default_rng(0)
    # [CLS] five words of 4 characters with a space between, [SEP], two pads
    offsets = np.array([[0, 0]] + [[5 * i, 5 * i + 4] for i in range(5)] + [[0, 0]] * 3)
    mask = np.array([1] * 7 + [0] * 2)
    hidden = rng.normal(size=(9, 16)).astype(np.float32)
    spans = [(0, 9), (5, 24), (10, 14), (11, 13), (20, 30), (15, 40)]  # (11, 13): inside a word; last two: cut off
    for normalize in (True, False):
        got = span_means(hidden, offsets, mask, spans, normalize)
        want = _span_mean_reference(hidden, offsets, mask, spans, normalize)
        assert [g is None for g in got] == [w is None for w in want] == [False, False, False, True, True, True]
        assert all(np.allclose(g, w, atol=1e-6) for g, w in zip(got, want) if w is not None)
    assert span_means(hidden, offsets, mask, [], True) == []


def test_an_index_with_late_sentence_vectors(tmp_path, embedder):
    if not embedder.can_late_chunk:
        pytest.skip("late chunking needs the ONNX backend")
    from index.stores.sqlite.index import HybridIndex
    from index.ingest import ingest
    from service.config import REPO_ROOT

    seeds = sorted((REPO_ROOT / "seeds").glob("*.txt"))[:2]
    idx = HybridIndex(tmp_path / "late", embedder, create=True, for_writing=True, late_sentences=True)
    try:
        report = ingest(idx, seeds, progress=False)
        assert report.sentences_embedded > report.chunks_embedded > 0
        assert idx.store.manifest()["sentence_vectors"] == "late"
        rows = [r for rows in idx.store.doc_sentences([d.doc_id for d in idx.store.documents()]).values() for r in rows]
        assert len(rows) == report.sentences_embedded
        assert all(abs(np.linalg.norm(r.vector) - 1) < 1e-3 for r in rows)
    finally:
        idx.close()
    # the index remembers how its sentence vectors were made: a writer set to the other kind is refused
    from index.stores.manifest import IndexMismatch

    with pytest.raises(IndexMismatch, match="sentence_vectors"):
        HybridIndex(tmp_path / "late", embedder, for_writing=True, late_sentences=False)
    # "auto" (the service's default, late_sentences=None) follows what each index was built with, and a
    # new index is separate: an index built late keeps taking writes without the setting
    sep = HybridIndex(tmp_path / "sep", embedder, create=True, for_writing=True, late_sentences=False)
    try:
        ingest(sep, seeds[:1], progress=False)
    finally:
        sep.close()
    for name, kind in (("late", "late"), ("sep", "separate"), ("new", "separate")):
        idx = HybridIndex(tmp_path / name, embedder, create=True, for_writing=True, late_sentences=None)
        try:
            assert idx.sentence_vector_kind() == kind
            ingest(idx, seeds, progress=False)  # a write: no mismatch
            assert idx.store.manifest()["sentence_vectors"] == kind
        finally:
            idx.close()
    # a rebuild under "auto" makes it separate
    idx = HybridIndex(tmp_path / "late", embedder, for_writing=True, rebuild=True, late_sentences=None)
    try:
        assert idx.sentence_vector_kind() == "separate"
    finally:
        idx.close()


def test_late_sentences_for():
    from index.stores.manifest import late_sentences_for

    assert late_sentences_for({"sentence_vectors": "separate"}, True, False) is True  # the setting wins
    assert late_sentences_for({"sentence_vectors": "late"}, False, False) is False
    assert late_sentences_for({"sentence_vectors": "separate"}, None, False) is False
    assert late_sentences_for({"sentence_vectors": "late"}, None, False) is True
    assert late_sentences_for({}, None, False) is False and late_sentences_for(None, None, False) is False
    assert late_sentences_for({"embedding_model": "m"}, None, False) is False  # written before the key: separate
    assert late_sentences_for({"sentence_vectors": "late"}, None, True) is False  # a rebuild: separate


def test_int8_onnx_embedder_is_close_and_marked():
    s = Settings()
    int8 = Embedder.from_config(s.model_copy(update={"embed_quantize": True}).embedder_config())
    embedder = Embedder.from_config(s.model_copy(update={"embed_quantize": False}).embedder_config())
    if int8.backend != "onnx":
        pytest.skip("int8 ONNX needs the ONNX backend")
    assert int8.model_name.endswith("+onnx-int8") and int8.batch_dependent and not embedder.batch_dependent
    texts = [LATE_TEXT, "Japan joined the talks later."]
    cos = (int8.encode(texts) * embedder.encode(texts)).sum(axis=1)
    assert (cos > 0.97).all(), cos


# ---- pooled chunk vectors (issue 26: one model pass over the text instead of two) -------------
def test_pooled_chunk_vectors_are_the_normalised_mean_of_sentences_and_title():
    from index.preparing import pooled_chunk_vectors

    sents = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    titles = np.array([[0, 0, 1]], dtype=np.float32)
    out = pooled_chunk_vectors(sents, [[0, 1], [2], []], titles, [0, -1, 0], title_weight=0.5)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)
    expect = np.array([0.5, 0.5, 0.5]) / np.linalg.norm([0.5, 0.5, 0.5])
    assert np.allclose(out[0], expect)  # mean of two sentences plus half the title
    assert np.allclose(out[1], [0, 0, 1])  # no title: the sentence itself
    assert np.allclose(out[2], [0, 0, 1])  # a chunk without sentences keeps its title's direction


def test_an_index_with_pooled_chunk_vectors_embeds_each_sentence_once(tmp_path, embedder):
    from index.ingest import ingest
    from index.preparing import TITLE_WEIGHT
    from index.stores.manifest import IndexMismatch
    from index.stores.sqlite.index import HybridIndex
    from service.config import REPO_ROOT

    seeds = sorted((REPO_ROOT / "seeds").glob("*.txt"))[:2]
    calls = []
    inner = embedder.encode

    class Counting:
        def __getattr__(self, name):
            return getattr(embedder, name)

        def encode(self, texts, progress=None):
            calls.append(len(texts))
            return inner(texts, progress=progress)

    idx = HybridIndex(tmp_path / "pooled", Counting(), create=True, for_writing=True, pooled_chunks=True)
    try:
        report = ingest(idx, seeds, progress=False)
        assert idx.store.manifest()["chunk_vectors"] == "pooled"
        docs = idx.store.documents()
        # one pass: the sentences and each document's title, no chunk texts
        assert sum(calls) == report.sentences_embedded + len({d.title for d in docs if d.title})
        q = embedder.encode(["When will missile warning data be shared?"])[0]
        found = idx.search_dense(q, 3)  # a question still finds passages by the pooled vectors alone
        assert len(found) == 3
        c = idx.store.chunks([found[0][0]])[found[0][0]]
        sents = idx.store.sentences_of([c])[c.id]
        title_vec = embedder.encode([idx.store.document(c.doc_id).title])[0]
        v = np.mean([s.vector for s in sents], axis=0) + TITLE_WEIGHT * title_vec
        # not 1.0: int8 activations are scaled per batch, and the title here is embedded alone
        assert float(idx.dense.index.reconstruct(int(c.id)) @ (v / np.linalg.norm(v))) > 0.995
    finally:
        idx.close()
    with pytest.raises(IndexMismatch, match="chunk_vectors"):
        HybridIndex(tmp_path / "pooled", embedder, for_writing=True)


def test_side_by_side_sessions_give_the_wide_sessions_vectors_in_order():
    # int8 vectors depend on their batch mates, so this also checks that the batches are the same ones
    int8 = Embedder.from_config(Settings(embed_quantize=True).embedder_config(), threads=2)
    if int8.backend != "onnx":
        pytest.skip("needs the ONNX backend")
    onnx = int8._onnx
    assert onnx.workers == 2
    texts = [f"Sentence {i} says {'more and more ' * (i % 7)}about port {i}." for i in range(70)]
    spans = [[(0, 10), (11, len(t))] for t in texts]
    a = onnx.encode(texts, 8)
    sa, spa = onnx.encode_spans(texts, spans, 8)
    assert onnx._singles is not None and len(onnx._singles) == 2  # the side-by-side path ran
    onnx.workers = 1
    try:
        b = onnx.encode(texts, 8)
        sb, spb = onnx.encode_spans(texts, spans, 8)
    finally:
        onnx.workers = 2
    assert np.array_equal(a, b) and np.array_equal(sa, sb)
    assert all(np.array_equal(x, y) for r, s in zip(spa, spb) for x, y in zip(r, s))
    # every text got its own vector: the one it gets alone in a batch of its own length is close
    assert (np.sum(a[:5] * int8.encode(texts[:5]), axis=1) > 0.97).all()


# ---- a start without torch (the ONNX path reads the model's files itself) ----------------------
def test_the_layout_is_read_from_the_model_files(tmp_path):
    import json

    from index.embedding.onnx_runtime import Unsupported, layout

    assert layout(Settings().resolved_model_path()) == {"mode": "mean", "normalize": True, "max_seq_length": 256,
                                                        "dim": 384}
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    mods = [{"path": "", "type": "sentence_transformers.models.Transformer"},
            {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (tmp_path / "modules.json").write_text(json.dumps(mods))
    pool = tmp_path / "1_Pooling" / "config.json"
    pool.write_text(json.dumps({"word_embedding_dimension": 768, "pooling_mode_cls_token": True,
                                "pooling_mode_mean_tokens": False}))
    assert layout(tmp_path) == {"mode": "cls", "normalize": False, "max_seq_length": 128, "dim": 768}
    pool.write_text(json.dumps({"word_embedding_dimension": 768, "pooling_mode": "max"}))
    with pytest.raises(Unsupported, match="pooling mode 'max'"):
        layout(tmp_path)
    (tmp_path / "modules.json").write_text(json.dumps(mods[:1] + [{"path": "x", "type": "a.Dense"}] + mods[1:]))
    with pytest.raises(Unsupported, match="only transformer"):
        layout(tmp_path)


def test_the_tokenizer_is_the_one_sentence_transformers_loads():
    from transformers import AutoTokenizer

    from index.embedding.onnx_runtime import load_tokenizer

    path = Settings().resolved_model_path()
    ours, theirs = load_tokenizer(path), AutoTokenizer.from_pretrained(str(path))
    texts = TEXTS + ["  Ünïcode café — naïve ‘quotes’ 東京 ", "word " * 300, LATE_TEXT]
    a = ours(texts, padding=True, truncation=True, max_length=256, return_offsets_mapping=True)
    b = theirs(texts, padding=True, truncation=True, max_length=256, return_offsets_mapping=True)
    assert set(a.keys()) == set(b.keys()) and all(a[k] == b[k] for k in b.keys())


def test_a_service_start_imports_neither_torch_nor_sentence_transformers(embedder):
    """The export is cached (the session's embedder made it): embedder and reader load on ONNX
    Runtime alone, which took a `citeqa serve` start from ~10 s to 5-6 s and `citeqa ingest` of the
    seeds from ~10 s to ~5 s on 2 AVX2 cores."""
    import subprocess
    import sys

    code = ("import sys\nfrom service.config import Settings\nfrom index.embedding.embedder import Embedder\n"
            "from service.answerers.reader.model import SHIPPED_DIR, ReaderModel\n"
            "e = Embedder.from_config(Settings().embedder_config()); r = ReaderModel(SHIPPED_DIR)\n"
            "assert e.backend == 'onnx' and r.backend == 'onnx' and e.encode(['x']).shape == (1, 384)\n"
            "print(sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
