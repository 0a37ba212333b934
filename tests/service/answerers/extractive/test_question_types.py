import pytest

from service.answerers.extractive import question_types as qt


@pytest.mark.parametrize("question,qtype", [
    ("When did real-time missile-data sharing start?", qt.WHEN),
    ("On which exact day in August 2023 was the summit held?", qt.WHEN),
    ("How many leaders' summits did they hold this year?", qt.HOW_MANY),
    ("How much money will the companies donate?", qt.HOW_MANY),
    ("Who read President Yoon's statement?", qt.WHO),
    ("Which U.S. official held separate bilateral talks?", qt.WHO),
    ("Who was Japan's defense minister when Lee pushed for talks?", qt.WHO),
    ("Where was the first Indo-Pacific Dialogue held?", qt.WHERE),
    ("In which city were the talks held?", qt.WHERE),
    ("Why did relations sour?", qt.WHY),
    ("What is the code name of the drills?", qt.NAME),
    ("What did the officials emphasize?", qt.WHAT),
])
def test_question_types(question, qtype):
    assert qt.question_type(question) == qtype


def test_question_specifics_and_focus():
    assert qt.specifics("Who hosted the 2024 summit after its sixth test of the Hwasong-18?") == ["2024", "sixth", "18"]
    assert qt.asks_for_named_entity("Which Japanese companies did the court order?")
    assert not qt.asks_for_named_entity("Which territorial conflict is unresolved?")
    assert qt.focus_noun("What was the budget of the secretariat?") == "budget"
    assert qt.focus_noun("Which types of aircraft took part?") == "aircraft"
    assert qt.name_focus("What was the name of the spy satellite North Korea launched?") == "spy satellite"
    assert qt.office_focus("Who was Japan's defense minister then?") == "Japan's defense minister"


def test_relative_clause_does_not_set_the_question_type():
    q = "What sort of war game, in which officials sit down and talk through a mock crisis, will the drills feature?"
    assert qt.question_type(q) == qt.WHAT
    assert qt.question_type("In which city were the talks held?") == qt.WHERE


def test_office_terms_leave_out_whose_office_it_is():
    # "Japan's", "South Korean": the sentence may name the owner another way ("Japanese")
    from index.text.terms import terms

    assert qt.office_terms("Japan's defense minister", terms) == set(terms("defense minister"))
    assert qt.office_terms("the South Korean foreign minister", terms) == set(terms("the foreign minister"))
