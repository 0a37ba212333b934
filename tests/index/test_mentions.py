from index.documents import Span
from index.mentions import introductions, rewrite, standalone


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
