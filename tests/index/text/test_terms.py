from index.text.terms import terms


def test_terms_are_stemmed_content_words():
    assert terms("The missiles were launched by the navy") == ["missil", "launch", "navi"]
    assert terms("real-time data") == ["real", "time", "data"]
    assert terms("U.S. forces") == ["usa", "forc"] and terms("the US") == ["usa"]  # not the pronoun "us"


def test_no_gazetteer_a_word_is_only_itself():
    # no list of the corpus's countries, capitals or demonyms: such lists only helped the seed articles
    assert terms("Japanese") != terms("Japan")
    assert not set(terms("Tokyo")) & set(terms("a firm relationship with Japan"))
