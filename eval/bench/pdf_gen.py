"""Generated PDFs and DOCX files with a known text, for tests and for choosing the PDF extractor
(eval/bench/pdf_quality.py): news-like pages with a running header and footer (page numbers), one or two
columns, and words hyphenated across line ends. fpdf2 and python-docx are test dependencies.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HEADER = "The Daily Ledger - Security Edition"
FOOTER = "Page {n} of {total}"


@dataclass
class Page:
    paragraphs: list[str]


def _hyphenate(paragraph: str, every: int = 9) -> str:
    """Break every `every`-th long word with a hyphen and a forced line end ("coop-\\neration")."""
    words = paragraph.split(" ")
    out = []
    for i, w in enumerate(words):
        if i % every == every - 1 and len(w) >= 8 and w.isalpha():
            cut = len(w) // 2
            out.append(f"{w[:cut]}-\n{w[cut:]}")
        else:
            out.append(w)
    return " ".join(out)


def make_pdf(path: Path, title: str, pages: list[Page], columns: int = 1, hyphenate: bool = False,
             text_layer: bool = True) -> Path:
    """A PDF of `pages` (title on page 1), each page with the running header and footer. Without a
    text layer the page is drawn as vector shapes only (what a scan gives an extractor: no text)."""
    from fpdf import FPDF

    total = len(pages)

    class Doc(FPDF):
        def header(self):
            if text_layer:
                self.set_font("helvetica", "I", 9)
                self.cell(0, 8, HEADER, align="C", new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            if text_layer:
                self.set_y(-15)
                self.set_font("helvetica", "I", 9)
                self.cell(0, 8, FOOTER.format(n=self.page_no(), total=total), align="C")

    pdf = Doc(format="A4")
    pdf.set_auto_page_break(False)
    for n, page in enumerate(pages, 1):
        pdf.add_page()
        if not text_layer:
            for k in range(30):
                pdf.rect(20, 30 + 7 * k, 170 - (k % 5) * 10, 3, style="F")
            continue
        if n == 1:
            pdf.set_font("helvetica", "B", 16)
            pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        pdf.set_font("helvetica", "", 10)
        body = [_hyphenate(p) if hyphenate else p for p in page.paragraphs]
        if columns == 1:
            for p in body:
                pdf.multi_cell(0, 5, p, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
        else:
            with pdf.text_columns(ncols=columns, gutter=8, text_align="L") as cols:
                for p in body:
                    cols.write(p + "\n\n")
    path = Path(path)
    pdf.output(str(path))
    return path


def make_docx(path: Path, title: str, sections: list[tuple[str | None, list[str]]]) -> Path:
    """A Word file: the title as a Title paragraph, then (heading, paragraphs) sections."""
    import docx

    d = docx.Document()
    d.add_heading(title, level=0)
    section = d.sections[0]
    section.header.paragraphs[0].text = HEADER
    for heading, paragraphs in sections:
        if heading:
            d.add_heading(heading, level=1)
        for p in paragraphs:
            d.add_paragraph(p)
    path = Path(path)
    d.save(str(path))
    return path
