"""PDF and DOCX: text out in reading order, running headers and footers gone, hyphenation joined,
pages known as offsets so citations can say their page; scanned PDFs refused clearly. The files
are generated (eval/bench/pdf_gen.py, fpdf2 and python-docx)."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench.pdf_gen import FOOTER, HEADER, Page, make_docx, make_pdf
from index.text import formats
from index.text.loading import BadInput, load_file
from formats_data import P1, P2



def test_strip_running_drops_repeated_edges_only():
    pages = [[(HEADER, "top"), ("Body one.", "body"), ("Page 1 of 2", "bottom")],
             [(HEADER, "top"), ("Body two.", "body"), (HEADER, "body"), ("Page 2 of 2", "bottom")]]
    assert formats.strip_running(pages) == [["Body one."], ["Body two.", HEADER]]  # in the body it stays


def test_reflow_joins_lines_and_hyphenated_words():
    assert formats._reflow("The secur-\nity council met\non Monday.\n") == "The security council met on Monday."
    assert formats._reflow("U.S.-\nJapan talks") == "U.S.-Japan talks"  # a compound keeps its hyphen


def test_split_pages_and_page_of():
    text, starts = formats.split_pages(f"one\n\n{formats.PAGE_MARK}two\n\n{formats.PAGE_MARK}three")
    assert text == "one\n\ntwo\n\nthree" and starts == [0, 5, 10]
    assert [formats.page_of(starts, o) for o in (0, 4, 5, 9, 10, 14)] == [1, 1, 2, 2, 3, 3]
    assert formats.split_pages("plain") == ("plain", None) and formats.page_of(None, 3) is None


@pytest.mark.parametrize("columns,hyphenate", [(1, False), (2, True)])
def test_a_two_page_pdf_becomes_one_article_with_page_starts(tmp_path, columns, hyphenate):
    path = make_pdf(tmp_path / "report.pdf", "Velmont harbour report", [Page(P1), Page(P2)], columns=columns,
                    hyphenate=hyphenate)
    doc = load_file(path)
    assert doc.title == "Velmont harbour report"
    assert HEADER not in doc.text and "Page 1 of 2" not in doc.text and FOOTER.split()[0] not in doc.text
    for para in P1 + P2:
        assert para in doc.text  # whole paragraphs, hyphenated words joined
    assert doc.page_starts is not None and len(doc.page_starts) == 2
    at = doc.text.index("The new Zephyr bridge")
    assert formats.page_of(doc.page_starts, at) == 2
    assert formats.page_of(doc.page_starts, doc.text.index("Officials said")) == 1


def test_a_scanned_pdf_without_text_is_refused_with_the_reason(tmp_path):
    path = make_pdf(tmp_path / "scan.pdf", "x", [Page(["x"]), Page(["y"])], text_layer=False)
    with pytest.raises(BadInput, match="no text layer"):
        load_file(path)


def test_a_file_named_pdf_that_is_not_one_is_refused(tmp_path):
    (tmp_path / "fake.pdf").write_text("just text")
    with pytest.raises(BadInput, match="not a readable PDF"):
        load_file(tmp_path / "fake.pdf")
    (tmp_path / "fake.docx").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(BadInput, match="not a readable DOCX"):
        load_file(tmp_path / "fake.docx")


def test_a_docx_keeps_headings_and_has_no_pages(tmp_path):
    path = make_docx(tmp_path / "brief.docx", "Velmont harbour brief", [(None, P1), ("The bridge", P2)])
    doc = load_file(path)
    assert doc.title == "Velmont harbour brief" and doc.page_starts is None
    assert HEADER not in doc.text  # the Word header is not body text
    assert "\n\nThe bridge\n\n" in doc.text and all(p in doc.text for p in P1 + P2)


def test_ingest_reads_pdf_and_docx_from_a_folder(tmp_path, embedder):
    from index.stores.sqlite.index import HybridIndex
    from index.ingest import ingest

    folder = tmp_path / "in"
    folder.mkdir()
    make_pdf(folder / "report.pdf", "Velmont harbour report", [Page(P1), Page(P2)])
    make_docx(folder / "brief.docx", "Velmont harbour brief", [(None, P1)])
    idx = HybridIndex(tmp_path / "index", embedder, create=True, for_writing=True)
    try:
        report = ingest(idx, [folder], progress=False)
        assert sorted(report.added) == ["brief", "report"] and not report.skipped
        assert idx.store.page_starts(["report", "brief"]) == {"report": load_file(folder / "report.pdf").page_starts}
    finally:
        idx.close()
