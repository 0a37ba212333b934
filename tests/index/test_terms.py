from index.terms import matches, terms


def _ts(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def test_terms_are_stemmed_content_words():
    assert terms("The missiles were launched by the navy") == ["missil", "launch", "navi"]
    assert terms("real-time data") == ["real", "time", "data"]
    assert terms("U.S. forces") == ["usa", "forc"] and terms("the US") == ["usa"]  # not the pronoun "us"


def test_no_gazetteer_a_word_matches_only_itself():
    # no list of the corpus's countries, capitals or demonyms: such lists only helped the seed articles
    assert terms("Japanese") != terms("Japan")
    assert not matches(terms("Tokyo")[0], _ts("a firm relationship with Japan"))
    assert matches("missil", _ts("a missile launch")) and not matches("missil", _ts("a launch"))
