"""Training examples for the reader: negatives lack the answer, labels point at it."""
import random

from training.reader import data as rd


def test_answerable_examples_keep_only_true_offsets(normandy_article):
    exs = rd.answerable_examples([normandy_article])
    assert len(exs) == 3
    for e in exs:
        assert e.context[e.answer_start:e.answer_start + len(e.answer_text)] == e.answer_text


def test_negatives_do_not_contain_the_answer(normandy_article):
    ex = rd.answerable_examples([normandy_article])[0]
    rng = random.Random(0)
    op = rd.other_paragraph(ex, [p["context"] for p in normandy_article["paragraphs"]], rng)
    assert op.answer_text is None and "911" not in op.context
    ar = rd.answer_removed(ex)
    assert ar is not None and "911" not in ar.context and "Rollo" in ar.context
    sw = rd.swapped(ex, "\n".join(p["context"] for p in normandy_article["paragraphs"]), rng)
    assert sw is not None and sw.question != ex.question and sw.answer_text is None


def test_build_mixes_kinds_and_is_seeded(normandy_article):
    a = rd.build([normandy_article], 2, 1, 1, 1, seed=3)
    b = rd.build([normandy_article], 2, 1, 1, 1, seed=3)
    assert [e.qid for e in a] == [e.qid for e in b]
    kinds = {e.kind for e in a}
    assert "answerable" in kinds and kinds & {"other_paragraph", "answer_removed", "swapped"}


def test_encode_labels_point_at_the_answer_tokens(normandy_article):
    from transformers import AutoTokenizer

    from training.reader.train import base_model_path, encode

    tok = AutoTokenizer.from_pretrained(str(base_model_path()))
    exs = rd.answerable_examples([normandy_article])
    neg = rd.answer_removed(exs[0])
    feats = encode(tok, exs + [neg], max_length=64, stride=16)
    for f, e in zip(feats, exs):
        assert f["start"] > 0
        answer = tok.decode(f["input_ids"][f["start"]:f["end"] + 1])
        assert answer.lower() == e.answer_text.lower()
    assert feats[-1]["start"] == feats[-1]["end"] == 0  # the negative points at [CLS]


def _ex(question, context="The tower was built in 1889 by Gustave Eiffel, and it was the tallest structure of its time.",
        answer="1889"):
    return rd.Example("q1", question, context, answer, context.index(answer), "answerable", "Tower")


def test_negated_questions_are_negated_at_the_main_verb():
    from training.reader.negatives import Negator

    neg = Negator()
    cases = {
        "When was the tower built?": "When was the tower not built?",
        "Who founded the company?": "Who never founded the company?",
        "What is the largest city in Poland?": "What is not the largest city in Poland?",
        "What can be found on the roof?": "What can not be found on the roof?",
    }
    for question, negated in cases.items():
        out = neg.run(_ex(question))
        assert out is not None and out.question == negated and out.answer_text is None and out.kind == "negated"
    assert neg.run(_ex("Why did it not fall?")) is None  # already negative
    # the paragraph negates near the answer: the negated question might be answerable, so none is made
    assert neg.run(_ex("When was the tower built?", "The tower was not finished until 1889.", "1889")) is None


def test_antonym_questions_use_an_opposite_the_paragraph_lacks():
    from training.reader.negatives import antonym

    rng = random.Random(0)
    out = antonym(_ex("What was the tallest structure of its time?"), rng)
    assert out.question == "What was the shortest structure of its time?" and out.answer_text is None
    # the opposite occurs in the paragraph: the changed question may still be answered there
    ctx = "The north tower was finished in 1889 and the south tower in 1890."
    assert antonym(_ex("When was the north tower finished?", ctx, "1889"), rng) is None
    # a capitalised word inside the question is a name, not an adjective
    assert antonym(_ex("What does the Start screen show?", "The Start screen shows tiles since 2012.", "tiles"),
                   rng) is None


def test_paraphrased_questions_keep_the_answer_and_change_common_words_only():
    from training.reader.paraphrase import Paraphraser, reader_vocab

    para = Paraphraser(reader_vocab())
    ctx = "The team of students built the tower in 1889 for Gustave Eiffel, and it was the tallest structure."
    seen = set()
    for seed in range(6):
        out = para.run(_ex("Which team of students built the tower for Gustave Eiffel?", ctx), random.Random(seed))
        assert out is not None and out.kind == "paraphrased"
        assert out.answer_text == "1889" and out.context[out.answer_start:out.answer_start + 4] == "1889"
        assert "Gustave Eiffel" in out.question  # names stay: swapping them is the `swapped` negatives' job
        assert out.question != "Which team of students built the tower for Gustave Eiffel?"
        seen.add(out.question)
    assert len(seen) > 1  # the synonym and the words replaced depend on the seed
    # WordNet's most common sense, common words only ("students" -> "pupils", not "scholars of x")
    assert any("pupils" in q or "squad" in q for q in seen)
    # nothing to replace but names and numbers
    assert para.run(_ex("Who is Gustave Eiffel?", ctx, "1889"), random.Random(0)) is None
    # a negative stays a negative: only answerable questions are paraphrased
    assert para.run(rd.Example("q", "Who built it?", ctx, None, None, "swapped", "Tower"), random.Random(0)) is None


def test_plural_of_a_synonym():
    from training.reader.paraphrase import plural

    assert [plural(w) for w in ("pupil", "class", "city", "day", "box")] == [
        "pupils", "classes", "cities", "days", "boxes"]


def test_within_swaps_use_a_name_of_the_same_paragraph_absent_from_the_answer_sentence():
    from training.reader.negatives import WithinSwapper

    ctx = ("William the Conqueror invaded England in 1066. Rollo, an earlier ruler, had settled in Normandy "
           "in 911, and Harold Godwinson was crowned in London that January.")
    ex = rd.Example("q", "When did William the Conqueror invade England?", ctx, "1066", ctx.index("1066"),
                    "answerable", "Normandy")
    swap = WithinSwapper()
    made = {swap.run(ex, random.Random(seed)).question for seed in range(8)}
    # a person for a person, a place for a place, each from this paragraph, none from the answer sentence
    assert made <= {"When did Rollo invade England?", "When did Harold Godwinson invade England?",
                    "When did William the Conqueror invade Normandy?",
                    "When did William the Conqueror invade London?"}, made
    out = swap.run(ex, random.Random(0))
    assert out.answer_text is None and out.kind == "swapped_within" and out.context == ctx
    # nothing of the paragraph to swap in: no example rather than a made-up one
    lone = rd.Example("q", "When did William invade England?", "William invaded England in 1066.", "1066", 24,
                      "answerable", "N")
    assert swap.run(lone, random.Random(0)) is None


def test_wordnet_antonyms_turn_a_common_word_to_an_opposite_the_paragraph_lacks():
    from training.reader.negatives import WordNetAntonyms
    from training.reader.paraphrase import reader_vocab

    ant = WordNetAntonyms(reader_vocab())
    ctx = "The legal engine built by Watt in 1769 used a separate condenser, as his sister noted."
    seen = {ant.run(_ex("Who built the legal engine?", ctx, "Watt"), random.Random(s)).question
            for s in range(4)}
    # WordNet's antonym of the adjective's most common senses
    assert seen == {"Who built the illegal engine?"}
    out = ant.run(_ex("Who built the legal engine?", ctx, "Watt"), random.Random(0))
    assert out.kind == "antonym_wordnet" and out.answer_text is None and out.context == ctx
    # an opposite the paragraph uses may be what it answers: "brother" -> "sister" is not made
    assert ant.run(_ex("Who was Watt's brother?", ctx, "Watt"), random.Random(0)) is None
    # ... and is made where it does not (a pair no written list of opposites held)
    other = ctx.replace("sister", "friend")
    assert ant.run(_ex("Who was Watt's brother?", other, "Watt"), random.Random(0)).question == "Who was Watt's sister?"
    # a word of a fixed phrase ("in front of") or of "how many" is left alone
    assert ant.run(_ex("How many engines stood in front of Watt?", ctx, "1769"), random.Random(0)) is None
    # names, and words of the answer, are never turned
    assert ant.run(_ex("What did Watt use?", ctx, "a separate condenser"), random.Random(0)) is None


def _article(title: str, official: bool, negative: bool = True) -> dict:
    prefix = "" if official else "sqexp"
    ctx = f"{title} was founded in 1900 by Ada."
    qas = [{"id": f"{prefix}{title}-1", "question": f"When was {title} founded?", "is_impossible": False,
            "answers": [{"text": "1900", "answer_start": ctx.index("1900")}]}]
    if negative:
        qas.append({"id": f"{prefix}{title}-2", "question": f"When was {title} closed?", "is_impossible": True,
                    "answers": []})
    return {"title": title, "paragraphs": [{"context": ctx, "qas": qas}]}


def test_official_articles_move_into_training_and_leave_the_held_out_set():
    held = ([_article(f"Off{i}", True) for i in range(5)] + [_article("Plain", True, negative=False)]
            + [_article(f"Rec{i}", False) for i in range(3)])
    moved, rest = rd.official_split(held, 2, seed=13)
    # only official articles with real unanswerable questions are moved
    assert len(moved) == 2 and all(rd.is_official(a) and a["title"] != "Plain" for a in moved)
    assert {a["title"] for a in moved}.isdisjoint(a["title"] for a in rest) and len(rest) == 7
    assert [a["title"] for a in rd.official_split(list(reversed(held)), 2, seed=13)[0]] == [a["title"] for a in moved]
    ex = rd.official_examples(moved, repeat=3, n_answerable=1, seed=0)
    negs = [e for e in ex if e.kind == "official_negative"]
    assert len(negs) == 6 and all(e.answer_text is None for e in negs)  # 2 real negatives, each 3 times
    assert [e.kind for e in ex].count("answerable") == 1
