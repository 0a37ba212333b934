"""Which PDF text extractor citeqa uses: pdfminer.six or pypdf, measured on generated news pages
(eval/bench/pdf_gen.py: the seed articles laid out on pages with a running header and footer, in one or
two columns, with and without words hyphenated at line ends), through the same post-processing
(index/text/formats.py). Score: word-sequence similarity (difflib ratio) of the extracted body to the
article's paragraphs, the share of its paragraphs that come out whole (one paragraph, not one
per line: the sentence splitter and the chunker work on paragraphs), running-header words left.

    python -m eval.bench.pdf_quality [--out DIR]
"""
from __future__ import annotations

import argparse
import difflib
import json
import tempfile
import time
from pathlib import Path

from eval.bench.pdf_gen import HEADER, Page, make_pdf
from index.text import formats
from index.text.loading import load_file
from service.config import REPO_ROOT

LAYOUTS = [("1 column", 1, False), ("2 columns", 2, False), ("2 columns, hyphenated", 2, True)]
EXTRACTORS = {"pdfminer.six": formats.pdf_pages_pdfminer, "pypdf": formats.pdf_pages_pypdf}


def articles() -> list[tuple[str, list[str]]]:
    out = []
    for p in sorted((REPO_ROOT / "seeds").glob("*.txt")):
        doc = load_file(p)
        paras = [x for x in doc.text.split("\n\n")[1:] if x.strip()]
        out.append((doc.title, paras))
    return out


def _ascii(s: str) -> str:  # fpdf2's core fonts are Latin-1
    return s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"') \
        .replace("\u2013", "-").replace("\u2014", "-").encode("latin-1", "replace").decode("latin-1")


def run() -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, cols, hyph in LAYOUTS:
            for name, pages_of in EXTRACTORS.items():
                sims, left, secs, n_pages, whole, n_paras = [], 0, 0.0, 0, 0, 0
                for i, (title, paras) in enumerate(articles()):
                    paras = [_ascii(p) for p in paras]
                    third = max(1, len(paras) // 3)
                    pages = [Page(paras[k:k + third]) for k in range(0, len(paras), third)]
                    path = make_pdf(Path(tmp) / f"{i}-{cols}-{hyph}.pdf", _ascii(title), pages, columns=cols,
                                    hyphenate=hyph)
                    t0 = time.perf_counter()
                    text = formats.pdf_text(path.read_bytes(), pages_of=pages_of)
                    secs += time.perf_counter() - t0
                    n_pages += len(pages)
                    got = text.replace(formats.PAGE_MARK, "").split()
                    want = (_ascii(title) + " " + " ".join(paras)).split()
                    sims.append(difflib.SequenceMatcher(None, want, got, autojunk=False).ratio())
                    left += text.count(HEADER.split()[1])
                    found = {" ".join(x.split()) for x in text.replace(formats.PAGE_MARK, "").split("\n")}
                    whole += sum(" ".join(x.split()) in found for x in paras)
                    n_paras += len(paras)
                rows.append({"layout": label, "extractor": name, "similarity": round(sum(sims) / len(sims), 4),
                             "paragraphs_whole": round(whole / n_paras, 4), "header_left": left, "ms_per_page": round(1000 * secs / n_pages, 1)})
    return {"rows": rows}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    res = run()
    for r in res["rows"]:
        print(f"{r['layout']:<24} {r['extractor']:<13} similarity {r['similarity']:.4f}  paragraphs whole "
              f"{r['paragraphs_whole']:.3f}  header left "
              f"{r['header_left']:>2}  {r['ms_per_page']:>6.1f} ms/page")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "pdf_quality.json").write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
