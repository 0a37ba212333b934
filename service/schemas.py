"""Request and response models: the contract of the API, the CLI's --json and the eval harness."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.doc_ids import MAX_ID_CHARS, is_valid_id

MAX_QUESTION_CHARS = 2000


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_ids: list[str] | None = Field(None, max_length=1000, description="only these documents")
    date_from: dt.date | None = Field(None, description="only documents dated on or after (YYYY-MM-DD)")
    date_to: dt.date | None = Field(None, description="only documents dated on or before (YYYY-MM-DD)")


def _question(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be empty or whitespace")
    return v


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS)
    answer: str = Field("", max_length=20_000)
    short_answer: str | None = Field(None, max_length=2_000, description="the turn's short answer, when it had one")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, examples=["When did real-time missile-data sharing start?"])
    top_k: int = Field(5, ge=1, le=20)
    filters: Filters | None = None
    history: list[HistoryTurn] = Field(default_factory=list, max_length=50,
                                       description="the conversation so far, oldest first: follow-ups are resolved from it")
    stream: bool = Field(False, description="answer as Server-Sent Events: `passages`, then `final` (also with "
                                            "`Accept: text/event-stream`)")
    answerer: Literal["llm", "reader", "extractive"] | None = Field(
        None, description="this request's answerer (default: the configured one); \"llm\" needs CITEQA_LLM_URL")

    _strip = field_validator("question")(_question)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int = Field(5, ge=1, le=20)
    filters: Filters | None = None

    _strip = field_validator("query")(_question)


class Citation(BaseModel):
    n: int = Field(..., ge=1, description="the [n] marker in the answer")
    doc_id: str
    title: str
    date: str | None
    chunk_id: str
    quote: str = Field(..., description="the exact sentence: document text[start:end]")
    start: int = Field(..., ge=0)
    end: int = Field(..., ge=0)
    score: float
    page: int | None = Field(None, ge=1, description="the PDF page the quote starts on (null: unpaged format)")


class AnswerSpan(BaseModel):
    n: int = Field(..., ge=1, description="the citation whose quote holds the short answer")
    doc_id: str
    start: int = Field(..., ge=0, description="document text[start:end] == short_answer")
    end: int = Field(..., ge=0)


class Passage(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    date: str | None
    text: str
    start: int = Field(..., ge=0)
    end: int = Field(..., ge=0)
    score: float
    page: int | None = Field(None, ge=1, description="the PDF page the passage starts on (null: unpaged format)")


class Timings(BaseModel):
    retrieve: float
    answer: float
    total: float
    stages: dict[str, float] | None = Field(
        None, description="ms per stage: resolve (follow-up), embed (the question; BM25 runs beside it), search "
                          "(dense, fusion, feedback, passage texts), rerank, read (the answerer), respond")


class ClaimCheck(BaseModel):
    text: str = Field(..., description="one sentence of the generated answer, without its markers")
    citations: list[int] = Field(..., description="the [n] it cites")
    supported: bool
    reason: str | None = Field(None, description="why it is not supported")


class AskResponse(BaseModel):
    question: str
    standalone_question: str | None = Field(None, description="the question searched, when a follow-up was "
                                                               "resolved from the history")
    answer: str
    short_answer: str | None
    short_answer_span: AnswerSpan | None = None
    abstained: bool
    confidence: float = Field(..., description="answer confidence in [0, 1]; below the threshold the service abstains")
    citations: list[Citation]
    passages: list[Passage]
    timings_ms: Timings
    answerer: str = Field("reader", description="llm, reader or extractive")
    model: str | None = Field(None, description="the LLM's model name (answerer llm)")
    claims: list[ClaimCheck] | None = Field(None, description="each generated sentence checked against its citations")
    fallback: bool = Field(False, description="the LLM failed and the embedded answerer answered instead")
    closest: Citation | None = Field(None, description="on an abstention: the retrieved sentence closest to the "
                                                       "question, when it is close (score: its cosine)")
    abstain_reason: str | None = Field(None, description="on an abstention: why the closest sentence is no answer")


class SearchResponse(BaseModel):
    results: list[Passage]


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    date: str | None
    chunks: int
    sha256: str


class DocumentDetail(DocumentSummary):
    text: str


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_id: str | None = Field(None, min_length=1, max_length=MAX_ID_CHARS,
                               description="letters (any script), digits, marks, then also _ . -; "
                                           "starts with a letter or digit")
    title: str | None = Field(None, max_length=500)
    date: dt.date | None = None
    text: str = Field(..., min_length=1, max_length=900_000)

    @field_validator("doc_id")
    @classmethod
    def _doc_id(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = unicodedata.normalize("NFC", v)
        if not is_valid_id(v):
            raise ValueError("a doc_id starts with a letter or digit and holds only letters, marks, digits, _ . -")
        return v


class DocumentWritten(DocumentDetail):
    replaced: bool = Field(..., description="true when an article with this doc_id existed and was replaced (200)")


class DeleteResult(BaseModel):
    doc_id: str
    deleted: bool


class ErrorBody(BaseModel):
    detail: str | list
