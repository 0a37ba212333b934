from pathlib import Path

import blingfire
import pytest

from index.text.cleaning import clean_html, clean_text, normalize_line

SEEDS = sorted((Path(__file__).resolve().parents[3] / "seeds").glob("*.txt"))

# Page furniture that really occurs in the seed files; each must be gone after cleaning.
BOILERPLATE = [
    "메뉴 메뉴", "좋아요 Like", "조회수 9433", "작성일", "Kicker: World", "print dictionary print", "3 min read",
    "Home > National > Diplomacy", "Load More By Desk Writer", "Load More In World", "Notify of", "Inline Feedbacks",
    "View all comments", "Check Also", "Here’s Why South Korea is Worried", "Log in to Twitter or Facebook",
    "help-image", "lock icon", "To write comments, please log in", "Standards Board Policy", "![]()",
    "by Si-ho Park, Reporter", "By Jung Min-ho", "BY SARAH KIM", "제 21 호",
]
# Raw lines that are furniture (not article sentences), so the survival check skips them.
NOT_BODY = BOILERPLATE + ["In a clandestine diplomatic ballet", "with the Korea JoongAng Daily", "Social comment?"]


def raw_sentences(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = normalize_line(line).rstrip("|").strip()
        if not line or any(b in line for b in NOT_BODY):
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(line)
        out += [line[a:b] for a, b in offsets if len(line[a:b].split()) >= 3]
    return out


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_every_body_sentence_of_every_seed_survives(path):
    c = clean_text(path.read_text(encoding="utf-8"))
    sentences = raw_sentences(path)
    assert len(sentences) >= 10
    # a page's lower-cased repeat of the headline is furniture; the headline itself is kept
    lost = [s for s in sentences if s not in c.text and s.casefold() != c.title.casefold()]
    assert not lost


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_boilerplate_is_removed(path):
    cleaned = clean_text(path.read_text(encoding="utf-8")).text
    assert not [b for b in BOILERPLATE if b in cleaned]


def test_photo_caption_printed_twice_is_kept_once():
    path = next(p for p in SEEDS if p.stem.startswith("003"))
    raw = path.read_text(encoding="utf-8")
    caption = "Korean National Security Adviser Cho Tae-yong, right, poses for a photo with Japanese"
    assert raw.count(caption) == 2
    assert clean_text(raw).text.count(caption) == 1


def test_titles_dates_and_authors_of_the_seeds():
    got = {p.stem[:3]: clean_text(p.read_text(encoding="utf-8")) for p in SEEDS}
    assert got["000"].title == "Trilateral security cooperation gains traction with signs of Seoul-Tokyo rapprochement"
    assert got["001"].title == "S. Korea-U.S.-Japan Strengthen Trilateral Cooperation"
    assert got["001"].date == "2024-02-20"
    assert got["001"].author == "Si-ho Park"
    assert got["004"].title == "South Korea, US, Japan pledge stronger deterrence against North Korea"
    assert got["000"].date is None  # no full date is stated: none is invented
    for c in got.values():
        assert c.text.startswith(c.title)  # the headline opens the text once
        assert c.text.count(c.title) == 1


def test_whitespace_is_normalized_but_words_are_not_touched():
    c = clean_text("Headline Here Today\n\n   South Korea,\u00a0the U.S.  and Japan met on Friday.   \n")
    assert "South Korea, the U.S. and Japan met on Friday." in c.text


def test_html_goes_through_the_main_text_extractor():
    html = """<html><head><title>Allies agree to share data</title>
    <meta property="article:published_time" content="2023-12-19"></head><body>
    <nav><a href="/">Home</a> <a href="/world">World</a> <a href="/login">Log in</a></nav>
    <article><h1>Allies agree to share data</h1>
    <p>The three countries agreed to start sharing real-time missile-warning data from December 2023.</p>
    <p>Officials said the system would help detect launches from North Korea more quickly than before.</p>
    <p>The agreement was one of the key elements of the Camp David summit held in August.</p></article>
    <footer>Copyright 2024. All rights reserved. Subscribe to our newsletter.</footer></body></html>"""
    c = clean_html(html)
    assert "real-time missile-warning data from December 2023" in c.text
    assert "All rights reserved" not in c.text and "Subscribe" not in c.text
    assert c.title == "Allies agree to share data"
    assert c.date == "2023-12-19"


def test_markdown_headings_and_images():
    c = clean_text("# A Markdown Headline\n\n![photo](x.png)\n\nThe first sentence is here. And a second one.\n")
    assert c.title == "A Markdown Headline"
    assert "x.png" not in c.text and "The first sentence is here. And a second one." in c.text


@pytest.mark.parametrize("stated,expected", [
    ("2024-02-31", None), ("2023-02-29", None), ("2024-04-31", None), ("2024-13-01", None), ("2024-00-10", None),
    ("0000-01-01", None), ("2024-02-29", "2024-02-29"), ("2024.2.9", "2024-02-09"), ("2023-12-31", "2023-12-31"),
])
def test_only_real_calendar_days_are_dates(stated, expected):
    text = f"Harbor bridge reopens after repairs\n\n작성일 {stated}\n\nThe bridge reopened on Monday."
    c = clean_text(text)
    assert c.date == expected
    assert stated not in c.text  # the date line is furniture either way
    inline = clean_text(f"Harbor bridge reopens after repairs\n\nThe bridge reopened. Published: {stated} by the city.")
    assert inline.date == expected


def test_an_impossible_date_gives_way_to_a_later_real_one():
    c = clean_text("Harbor bridge reopens\n\n작성일 2024-02-31\n\nUpdated 2024-03-02\n\nThe bridge reopened on Monday.")
    assert c.date == "2024-03-02"
    c = clean_text("Harbor bridge reopens\n\nThe bridge reopened. Date: 2024-02-30, posted 2024-03-01 again.")
    assert c.date == "2024-03-01"


def test_html_dates_are_real_days():
    html = ('<html><head><title>Orchard frost</title><meta property="article:published_time" content="2024-02-31">'
            "</head><body><article><h1>Orchard frost</h1><p>A late frost destroyed about 30 percent of the apple "
            "blossoms in the valley, growers said on Monday.</p></article></body></html>")
    assert clean_html(html).date is None  # trafilatura alone makes it 2024-02-01
    assert clean_html(html.replace("2024-02-31", "2024-02-29T08:00:00")).date == "2024-02-29"
