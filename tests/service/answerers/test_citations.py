import re

from service.answerers.citations import Quote, compose, neutralize


def q(doc, start, end, text):
    return Quote(doc_id=doc, title="T", date=None, chunk_id=f"{doc}#0", start=start, end=end, text=text, score=1.0)


def test_markers_count_in_order_of_first_appearance_and_repeat_for_the_same_sentence():
    text, cites = compose([q("a", 10, 20, "First one."), q("b", 0, 5, "Other."), q("a", 10, 20, "First one.")])
    assert text == "First one. [1] Other. [2] First one. [1]"
    assert [(c.n, c.doc_id, c.start, c.end) for c in cites] == [(1, "a", 10, 20), (2, "b", 0, 5)]


def test_nothing_to_cite():
    assert compose([]) == ("", [])


def test_an_articles_own_bracketed_numbers_are_not_markers():
    quote = q("a", 0, 62, "The museum cost 9 million euros [2], the city said [1][3, 4].")
    text, cites = compose([quote])
    assert text == "The museum cost 9 million euros \uff3b2\uff3d, the city said \uff3b1\uff3d\uff3b3, 4\uff3d. [1]"
    assert re.findall(r"\[(\d+)\]", text) == ["1"] and len(cites) == 1
    assert cites[0].quote == quote.text  # the quote itself stays verbatim
    assert len(neutralize(quote.text)) == len(quote.text)
    for kept in ("[sic]", "[a]", "[]", "[Seoul]", "a[i]"):
        assert neutralize(kept) == kept
