"""Sentence offsets: the C call mapped with numpy gives the blingfire wrapper's spans."""
import random
from pathlib import Path

import blingfire

from index.text.sentences import sentence_offsets, split_sentences

SEEDS = Path(__file__).resolve().parents[3] / "seeds"


def _bodies():
    lines = [ln for p in sorted(SEEDS.glob("*")) if p.is_file()
             for ln in p.read_text(encoding="utf-8", errors="ignore").split("\n") if ln.strip()]
    rng = random.Random(0)
    # multi-byte characters of every UTF-8 length, combining marks, curly quotes, abbreviations
    alphabet = "abc XYZ.!?\u00e9\u00fc\u4e2d\u6587\U0001F600\u0301 \u2019\u201c\u201d Mr. U.S. 3.5 \t"
    made = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120))) for _ in range(2000)]
    return lines + made + ["Seoul, Tokyo – and Washington: “trilateral” talks began. They ended in 2023."]


def test_offsets_are_the_wrappers():
    bodies = _bodies()
    assert sum(not b.isascii() for b in bodies) > 1000
    for body in bodies:
        assert sentence_offsets(body) == blingfire.text_to_sentences_and_offsets(body)[1], body


def test_split_sentences_gives_spans_of_the_text():
    text = "Title line\n\nThe U.S. and Japan met on Jan. 11. They agreed – “again” – to share data.\n  \nEnd é."
    spans = split_sentences(text)
    got = [text[s.start:s.end] for s in spans]
    assert got == ["Title line", "The U.S. and Japan met on Jan. 11.", "They agreed – “again” – to share data.",
                   "End é."]
