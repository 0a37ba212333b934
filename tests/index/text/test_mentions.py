from index.types import Span
from index.text.mentions import introductions, rewrite, standalone


def test_titled_introduction_and_surnames():
    [p] = introductions("Participating officials included South Korea’s First Vice Foreign Minister Park Yoon-joo.")
    assert p.full == "Park Yoon-joo"
    assert p.intro == "South Korea’s First Vice Foreign Minister Park Yoon-joo"
    assert p.titled == "First Vice Foreign Minister Park Yoon-joo"
    assert p.surnames == ("Park",)  # the hyphenated given name never stands alone


def test_appositive_introduction():
    [p] = introductions("John Kirby, the White House national security spokesman, said on Wednesday that …")
    assert p.intro == "White House national security spokesman John Kirby"
    assert set(p.surnames) == {"John", "Kirby"}


def test_bare_surname_reads_as_introduced_person():
    sents = [
        "Participating officials included South Korea’s First Vice Foreign Minister Park Yoon-joo.",
        "Park briefed his counterparts on Seoul’s diplomatic efforts.",
        "Park later returned home.",
    ]
    out = standalone(sents)
    assert out[0] == sents[0]
    assert out[1] == "South Korea’s First Vice Foreign Minister Park Yoon-joo briefed his counterparts on Seoul’s diplomatic efforts."
    assert out[2].startswith("South Korea’s First Vice Foreign Minister Park Yoon-joo later")


def test_possessive_owner_is_not_doubled_and_full_names_are_left_alone():
    sents = [
        "Japan’s Vice Foreign Minister Takehiro Funakoshi attended.",
        "In a meeting with Japan’s Funakoshi, officials spoke.",
        "Takehiro Funakoshi said nothing.",
    ]
    out = standalone(sents)
    assert out[1] == "In a meeting with Japan’s Vice Foreign Minister Takehiro Funakoshi, officials spoke."
    assert out[2] == sents[2]


def test_unknown_names_and_name_parts_stay():
    sents = ["President Yoon Suk Yeol spoke.", "Yoon Suk Yeol and Kim met.", "Lee said so."]
    assert standalone(sents) == sents  # full name repeated; Kim and Lee were never introduced


def test_nearest_introduction_wins_for_a_shared_surname():
    sents = ["Vice Foreign Minister Cho Hyun-dong spoke.", "National Security Adviser Cho Tae-yong arrived.", "Cho left."]
    assert standalone(sents)[2] == "National Security Adviser Cho Tae-yong left."


def test_rewrite_replaces_sentences_inside_a_range_only():
    text = "Aa bb. Cc dd. Ee ff."
    spans = [Span(0, 6), Span(7, 13), Span(14, 20)]
    assert rewrite(text, spans, ["A.", "C.", "E."], 7, 20) == "C. E."
    assert rewrite(text, spans, ["A.", "C.", "E."], 0, 20) == "A. C. E."


def test_rewrite_chunks_equals_the_plain_walk_and_scales_linearly():
    import random
    from types import SimpleNamespace

    from index.text.mentions import rewrite_chunks

    def plain(text, spans, rewritten, start, end):  # the original walk over every span
        out, pos = [], start
        for span, new in zip(spans, rewritten):
            if span.start >= start and span.end <= end:
                out += [text[pos:span.start], new]
                pos = span.end
        return "".join(out + [text[pos:end]])

    def doc(n):
        sents = [f"Sentence {i} says something." for i in range(n)]
        text = " ".join(sents)
        spans, pos = [], 0
        for s in sents:
            spans.append(SimpleNamespace(start=pos, end=pos + len(s)))
            pos += len(s) + 1
        rewritten = [s.upper() for s in sents]
        bounds = [(spans[i].start, spans[min(i + 5, n - 1)].end) for i in range(0, n, 4)]
        return text, spans, rewritten, bounds

    text, spans, rewritten, bounds = doc(300)
    rng = random.Random(0)
    bounds += [(a, a + rng.randrange(1, 400)) for a in (rng.randrange(len(text)) for _ in range(50))]
    assert rewrite_chunks(text, spans, rewritten, bounds) == [plain(text, spans, rewritten, a, b) for a, b in bounds]
    # linear: 8x the document visits about 8x the spans, not 64x as walking all of them per chunk did
    class Counting(list):
        visits = 0

        def __getitem__(self, i):
            Counting.visits += 1
            return super().__getitem__(i)

    def visits(n):
        text, spans, rewritten, bounds = doc(n)
        Counting.visits = 0
        rewrite_chunks(text, Counting(spans), rewritten, bounds)
        return Counting.visits

    small, large = visits(2500), visits(20000)
    assert large <= small * 9, (small, large)


def test_the_owner_of_an_office_is_any_capitalised_name_not_a_list_of_countries():
    out = standalone(["Brazil's Foreign Minister Mauro Vieira met the delegation.", "Vieira said talks went well.",
                      "Prime Minister Anthony Albanese spoke.", "Albanese agreed."])
    assert out[1] == "Brazil's Foreign Minister Mauro Vieira said talks went well."
    # an office word is not taken for its owner
    assert out[3] == "Prime Minister Anthony Albanese agreed."


def test_prefilters_never_hide_an_introduction():
    """introductions() searches for an office word or ", the|a|an " before its full patterns: on every
    seed sentence it finds what the full patterns alone find."""
    from pathlib import Path

    from index.text import mentions as m
    from index.text.sentences import split_sentences

    def unfiltered(sentence):
        found = []
        for x in m._TITLED.finditer(sentence):
            bare = x.group(1)[m._OWNER_PREFIX.match(x.group(1)).end():]
            found.append(m.Person(x.group(2), f"{x.group(1)} {x.group(2)}", f"{bare} {x.group(2)}",
                                  m._surnames(x.group(2))))
        for x in m._APPOSITIVE.finditer(sentence):
            intro = f"{x.group(2)} {x.group(1)}"
            found.append(m.Person(x.group(1), intro, intro, m._surnames(x.group(1))))
        return found

    seeds = Path(__file__).resolve().parents[3] / "seeds"
    texts = [p.read_text(encoding="utf-8", errors="ignore") for p in sorted(seeds.glob("*")) if p.is_file()]
    sentences = [t[s.start:s.end] for t in texts for s in split_sentences(t)]
    found = [m.introductions(s) for s in sentences]
    assert found == [unfiltered(s) for s in sentences]
    assert sum(map(bool, found)) >= 5  # the seeds introduce people both ways
