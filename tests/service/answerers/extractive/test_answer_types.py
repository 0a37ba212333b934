from index.text.terms import terms
from service.answerers.extractive import answer_types as at


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


def test_places_are_capitalised_runs_after_a_locative():
    s = "Top diplomats met in Tokyo on Friday at the Yongsan presidential office in central Seoul, as in Malaysia."
    # where a capitalised run stands says it is a place: no list of the corpus's places
    assert texts(at.places(s)) == ["Tokyo", "Yongsan", "Malaysia"]
    assert texts(at.places("Talks with Norway in Oslo and at the Norwegian Sea.")) == ["Oslo", "Norwegian Sea"]


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


def test_people_after_possessives_and_further_along_a_run():
    s = ("Participating officials included South Korea’s First Vice Foreign Minister Park Yoon-joo, U.S. Deputy "
         "Secretary of State Christopher Landau, and Prime Minister Fumio Kishida’s envoy.")
    assert texts(at.people(s)) == ["Park Yoon-joo", "Christopher Landau", "Fumio Kishida"]


def test_an_office_answers_a_which_office_question():
    s = "They are likely to regularize their meetings into trilateral meetings for the foreign and defense ministers."
    q = "Meetings of which ministers are the three countries likely to regularize?"
    assert "the foreign and defense ministers" in texts(at.novel_spans(at.WHO, s, q))
