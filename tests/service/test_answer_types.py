import pytest

from index.terms import terms
from service import answer_types as at


@pytest.mark.parametrize("question,qtype", [
    ("When did real-time missile-data sharing start?", at.WHEN),
    ("On which exact day in August 2023 was the summit held?", at.WHEN),
    ("How many leaders' summits did they hold this year?", at.HOW_MANY),
    ("How much money will the companies donate?", at.HOW_MANY),
    ("Who read President Yoon's statement?", at.WHO),
    ("Which U.S. official held separate bilateral talks?", at.WHO),
    ("Who was Japan's defense minister when Lee pushed for talks?", at.WHO),
    ("Where was the first Indo-Pacific Dialogue held?", at.WHERE),
    ("In which city were the talks held?", at.WHERE),
    ("Why did relations sour?", at.WHY),
    ("What is the code name of the drills?", at.NAME),
    ("What did the officials emphasize?", at.WHAT),
])
def test_question_types(question, qtype):
    assert at.question_type(question) == qtype


def texts(spans):
    return [s.text for s in spans]


def test_dates():
    s = "Jan. 21-24, on October 22,the air forces; On January 5, 2024; in August 2023; Next month; Friday; 2018; may go"
    got = texts(at.dates(s))
    for want in ["Jan. 21-24", "October 22", "January 5, 2024", "August 2023", "Next month", "Friday", "2018"]:
        assert want in got
    assert not any("may" in g for g in got)
    assert texts(at.dates("agreeing to start sharing data from December 2023 to better detect")) == ["December 2023"]
    assert texts(at.dates("The day before the summit, the government announced")) == ["The day before the summit"]


def test_numbers_are_counts_not_years():
    got = texts(at.numbers("through seven leaders' summits, thousands of containers in 2018, 1,000 troops, 5.5%"))
    assert got == ["seven", "thousands", "1,000", "5.5%"]


def test_people_after_titles_and_not_places_or_headlines():
    s = "Cho held talks with U.S. National Security Adviser Jake Sullivan and Prime Minister Fumio Kishida."
    assert texts(at.people(s)) == ["Jake Sullivan", "Fumio Kishida"]
    assert texts(at.people("Korean National Security Adviser Cho Tae-yong met at Camp David in South Korea")) == ["Cho Tae-yong"]
    assert at.people("S. Korea-U.S.-Japan Strengthen Trilateral Cooperation") == []
    assert texts(at.people("President Yoon vowed")) == ["Yoon"]


def test_places_and_cities():
    s = "Top diplomats met in Tokyo on Friday at the Yongsan presidential office in central Seoul, as in Malaysia."
    assert {"Tokyo", "Yongsan presidential office", "central Seoul", "Malaysia"} <= set(texts(at.places(s)))
    assert "Malaysia" not in texts(at.spans_for(at.WHERE, s, "city"))


def test_novel_spans_skip_what_the_question_names_and_count_the_focus():
    q = "Who read President Yoon's statement?"
    s = "President Yoon Suk Yeol's statement was read by Vice Foreign Minister Cho Hyun-dong."
    assert texts(at.novel_spans(at.WHO, s, q)) == ["Cho Hyun-dong"]
    counted = "including through seven leaders' summits this year, as the three leaders said"
    assert texts(at.novel_spans(at.HOW_MANY, counted, "How many leaders' summits?", focus="leaders' summits")) == ["seven"]
    assert at.novel_spans(at.HOW_MANY, "the three countries agreed", "How many missiles?", focus="missiles") == []


def test_short_answer_is_the_span_nearest_the_question_words():
    s = ("Continually, the three countries continue to deepen trilateral defense cooperation, agreeing to start "
         "sharing real-time missile-warning data from December 2023 to better detect launches.")
    q = "When did real-time missile-data sharing start?"
    span = at.pick_short_answer(at.WHEN, s, q, set(terms(q)), terms)
    assert span.text == "December 2023" and s[span.start : span.end] == span.text


def test_question_specifics_and_focus():
    assert at.specifics("Who hosted the 2024 summit after its sixth test of the Hwasong-18?") == ["2024", "sixth", "18"]
    assert at.asks_for_named_entity("Which Japanese companies did the court order?")
    assert not at.asks_for_named_entity("Which territorial conflict is unresolved?")
    assert at.focus_noun("What was the budget of the secretariat?") == "budget"
    assert at.focus_noun("Which types of aircraft took part?") == "aircraft"
    assert at.name_focus("What was the name of the spy satellite North Korea launched?") == "spy satellite"
    assert at.office_focus("Who was Japan's defense minister then?") == "Japan's defense minister"


def test_people_after_possessives_and_further_along_a_run():
    s = ("Participating officials included South Korea’s First Vice Foreign Minister Park Yoon-joo, U.S. Deputy "
         "Secretary of State Christopher Landau, and Prime Minister Fumio Kishida’s envoy.")
    assert texts(at.people(s)) == ["Park Yoon-joo", "Christopher Landau", "Fumio Kishida"]


def test_an_office_answers_a_which_office_question():
    s = "They are likely to regularize their meetings into trilateral meetings for the foreign and defense ministers."
    q = "Meetings of which ministers are the three countries likely to regularize?"
    assert "the foreign and defense ministers" in texts(at.novel_spans(at.WHO, s, q))


def test_relative_clause_does_not_set_the_question_type():
    from service.answer_types import WHAT, WHERE, question_type
    q = "What sort of war game, in which officials sit down and talk through a mock crisis, will the drills feature?"
    assert question_type(q) == WHAT
    assert question_type("In which city were the talks held?") == WHERE
