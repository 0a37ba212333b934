from service.citations import Quote, compose


def q(doc, start, end, text):
    return Quote(doc_id=doc, title="T", date=None, chunk_id=f"{doc}#0", start=start, end=end, text=text, score=1.0)


def test_markers_count_in_order_of_first_appearance_and_repeat_for_the_same_sentence():
    text, cites = compose([q("a", 10, 20, "First one."), q("b", 0, 5, "Other."), q("a", 10, 20, "First one.")])
    assert text == "First one. [1] Other. [2] First one. [1]"
    assert [(c.n, c.doc_id, c.start, c.end) for c in cites] == [(1, "a", 10, 20), (2, "b", 0, 5)]


def test_nothing_to_cite():
    assert compose([]) == ("", [])
