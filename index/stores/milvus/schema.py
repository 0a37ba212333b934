"""The collections citeqa keeps in Milvus, one per kind of row.

documents  one row per document (primary key: client.key_of(doc_id)), naming the version that counts; written last
           (every row of a document carries `bucket`, a hash of its id: `citeqa check` walks by bucket)
chunks     chunk spans, their vectors (dense search) and their stemmed words (Milvus' BM25 function)
sentences  sentence spans, vectors and content terms (the answerer's and the reranker's rows)
texts      the documents' texts in parts (a VARCHAR holds 65,535 bytes)
terms      sentence document frequencies, one counter per term and writer process (no lost updates
           between writers: each only ever changes its own rows; a term's df is their sum)
meta       the manifest and the generation (a fresh random value after every write)
"""
from __future__ import annotations

from dataclasses import dataclass

STR = 65_535
ID = 1_024
DENSE_TYPES = ("FLAT", "IVF_FLAT", "AUTOINDEX", "HNSW")


@dataclass(frozen=True)
class DenseIndex:
    """The chunk vectors' index and how it is searched (CITEQA_MILVUS_INDEX and its parameters).
    FLAT is exact; IVF_FLAT probes `nprobe` of `nlist` clusters; HNSW walks a graph with `ef`
    candidates (Milvus standalone or cluster: milvus-lite's local mode refuses it); AUTOINDEX is
    the server's own choice. Chosen when the collection is created: a store keeps the index it has."""

    type: str = "IVF_FLAT"
    nlist: int = 128
    nprobe: int = 16
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef: int = 64

    def __post_init__(self):
        if self.type not in DENSE_TYPES:
            raise ValueError(f"unknown Milvus dense index {self.type!r} (one of {', '.join(DENSE_TYPES)})")

    def build_params(self) -> dict:
        if self.type == "IVF_FLAT":
            return {"nlist": self.nlist}
        if self.type == "HNSW":
            return {"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction}
        return {}

    def search_params(self, index_type: str, limit: int) -> dict:
        """For the index the collection has (`index_type`, read from the server), not the setting."""
        if index_type == "IVF_FLAT":
            return {"nprobe": min(self.nprobe, self.nlist)}  # Milvus refuses more probes than clusters
        if index_type == "HNSW":
            return {"ef": max(self.hnsw_ef, limit)}  # Milvus refuses ef < limit
        return {}


def build(client, kind: str, dim: int, dense: DenseIndex):
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    params = client.prepare_index_params()
    blank = True
    if kind == "documents":
        s.add_field("key", DataType.VARCHAR, max_length=64, is_primary=True)  # client.key_of(doc_id)
        s.add_field("doc_id", DataType.VARCHAR, max_length=ID)
        params.add_index(field_name="doc_id", index_type="INVERTED")
        s.add_field("ver", DataType.INT64)
        s.add_field("bucket", DataType.INT64)  # hash of doc_id: listing by ranges (client.ranged)
        for name in ("title", "author", "source", "pages"):
            s.add_field(name, DataType.VARCHAR, max_length=STR)
        s.add_field("date", DataType.VARCHAR, max_length=32)
        s.add_field("sha256", DataType.VARCHAR, max_length=64)
        s.add_field("ingested_at", DataType.VARCHAR, max_length=32)
        for name in ("n_chunks", "n_sentences", "n_parts"):
            s.add_field(name, DataType.INT64)
    elif kind == "chunks":
        _version_row(s, DataType)
        s.add_field("chunk_id", DataType.VARCHAR, max_length=2 * ID)
        s.add_field("date", DataType.VARCHAR, max_length=32)
        for name in ("ord", "start", "end", "n_tokens"):
            s.add_field(name, DataType.INT64)
        # stemmed by citeqa (index/text/terms.py), so Milvus' standard analyzer only splits on spaces:
        # the same words BM25 matches in the embedded store (which stems with FTS5's porter)
        s.add_field("words", DataType.VARCHAR, max_length=STR, enable_analyzer=True,
                    analyzer_params={"type": "standard"})
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
        s.add_function(Function(name="words_bm25", function_type=FunctionType.BM25, input_field_names=["words"],
                                output_field_names=["sparse"]))
        params.add_index(field_name="vec", index_type=dense.type, metric_type="IP", params=dense.build_params())
        # FTS5's constants (the embedded store's BM25), also Milvus' defaults: both stores rank alike
        params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": 1.2, "bm25_b": 0.75})
        params.add_index(field_name="ver", index_type="INVERTED")
        blank = False
    elif kind == "sentences":
        _version_row(s, DataType)
        for name in ("ord", "start", "end"):
            s.add_field(name, DataType.INT64)
        s.add_field("terms", DataType.VARCHAR, max_length=STR)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
        # sentences are read by document version, never searched by vector: FLAT costs nothing
        params.add_index(field_name="vec", index_type="FLAT", metric_type="IP")
        params.add_index(field_name="ver", index_type="INVERTED")
        blank = False
    elif kind == "texts":
        _version_row(s, DataType)
        s.add_field("part", DataType.INT64)
        s.add_field("text", DataType.VARCHAR, max_length=STR)
        params.add_index(field_name="ver", index_type="INVERTED")
    elif kind == "terms":
        s.add_field("key", DataType.VARCHAR, max_length=64, is_primary=True)  # client.key_of("<writer> <term>")
        s.add_field("term", DataType.VARCHAR, max_length=ID)
        s.add_field("df", DataType.INT64)
        params.add_index(field_name="term", index_type="INVERTED")
    elif kind == "meta":
        s.add_field("key", DataType.VARCHAR, max_length=256, is_primary=True)
        s.add_field("value", DataType.VARCHAR, max_length=STR)
    else:
        raise ValueError(kind)
    if blank:
        s.add_field("_v", DataType.FLOAT_VECTOR, dim=2)
        params.add_index(field_name="_v", index_type="FLAT", metric_type="L2")
    return s, params


def _version_row(s, DataType) -> None:  # noqa: N803 - pymilvus' enum, imported lazily
    """The keys every row of a document version carries (write.py's _rows)."""
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("ver", DataType.INT64)
    s.add_field("doc_id", DataType.VARCHAR, max_length=ID)
    s.add_field("bucket", DataType.INT64)


__all__ = ["DENSE_TYPES", "DenseIndex", "build"]
