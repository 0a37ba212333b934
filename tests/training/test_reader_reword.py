"""LLM rewordings of training questions (training/reader/reword.py): what is kept and how it becomes
examples. The LLM itself is not run here; its replies are given as text."""
from __future__ import annotations

import json

from training.reader import reword

SENTENCE = "The Normans settled in Normandy in 911."


def test_a_rewording_away_from_the_sentence_is_kept():
    assert reword.accept("When did the Normans settle in Normandy?", "When did Norse newcomers make their home in Normandy?",
                         "911", SENTENCE)


def test_a_rewording_that_copies_the_sentence_is_not():
    assert not reword.accept("When did the Normans settle in Normandy?", "When did the Normans settle down in Normandy?",
                             "911", SENTENCE)


def test_leaks_yes_no_questions_other_wh_words_and_lost_numbers_are_refused():
    q = "In 911, who settled in Normandy?"
    s = "In 911 the Normans settled in Normandy."
    assert reword.accept(q, "Back in 911, which people made Normandy their home?", "the Normans", s)
    assert not reword.accept(q, "Did the Normans move to that region in 911?", "the Normans", s)  # yes/no
    assert not reword.accept(q, "Back in 911, which people, the Normans, made it home?", "the Normans", s)  # the answer
    assert not reword.accept(q, "Which people made Normandy their home back then?", "the Normans", s)  # 911 lost
    assert not reword.accept(q, "When did a people make Normandy their home in 911?", "the Normans", s)  # who -> when
    assert not reword.accept(q, "Normandy in 911", "the Normans", s)  # not a question


def test_replies_are_split_into_distinct_questions():
    text = '1. "Where did they go?"\n\n2) Question: Where did they go?\n- Where did the group travel to?\n'
    assert reword.replies(text) == ["Where did they go?", "Where did the group travel to?"]


def test_examples_keep_the_answer_span_and_only_questions_of_the_given_articles(tmp_path, normandy_article):
    f = tmp_path / "rw.jsonl"
    rows = [{"qid": "sqexp_1", "question": "When did the Normans settle in Normandy?", "kept": [True, True, True],
             "reworded": ["When did Norse newcomers make their home in Normandy?",
                          "When did the Normans settle in Normandy?",  # the question itself: judged again, dropped
                          "At what point did Norse people first make Normandy home?"]},
            {"qid": "held_out_9", "question": "Who?", "reworded": ["Who was it?"], "kept": [True]}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ex = reword.examples(f, [normandy_article], per_question=1)
    assert [(e.question, e.kind, e.answer_text) for e in ex] == [
        ("When did Norse newcomers make their home in Normandy?", "reworded", "911")]
    e = ex[0]
    assert e.context[e.answer_start:e.answer_start + len(e.answer_text)] == "911"
    assert len(reword.examples(f, [normandy_article], per_question=2)) == 2
    # a gzipped reword file (as training/data/ keeps them) reads the same
    import gzip

    gz = tmp_path / "rw.jsonl.gz"
    gz.write_bytes(gzip.compress(f.read_bytes()))
    assert reword.examples(gz, [normandy_article], per_question=2) == reword.examples(f, [normandy_article], per_question=2)


def test_the_held_out_measure_asks_each_question_with_its_first_kept_rewording(tmp_path, normandy_article):
    from training.reader.reword_eval import pairs

    f = tmp_path / "rw.jsonl"
    f.write_text(json.dumps({"qid": "sqexp_1", "question": "When did the Normans settle in Normandy?",
                             "reworded": ["Did the Normans settle in Normandy?",  # yes/no: not kept
                                          "When did Norse newcomers make their home in Normandy?"],
                             "kept": [False, True]}) + "\n"
                 + json.dumps({"qid": "sqexp_2", "question": "Who was the first ruler of the Normans?",
                               "reworded": ["Who was the first ruler of the Normans?"], "kept": [False]}) + "\n")
    got = pairs(f, [normandy_article])
    assert [(q["id"], w) for q, w in got] == [("sqexp_1", "When did Norse newcomers make their home in Normandy?")]
    assert got[0][0]["answers"] == ["911"]


def test_a_rewording_naming_part_of_the_answer_or_labelled_is_handled():
    s = "The fear was noted by Dr. Cecil Cook in his report."
    assert not reword.accept("Who noted this particular fear?", "Which report of Dr. Cook mentions this fear?",
                             "Dr. Cecil Cook", s)
    assert reword.replies("Question 1: What Buddhist sect was it?\nQuestion 2. Which school?") == [
        "What Buddhist sect was it?", "Which school?"]
