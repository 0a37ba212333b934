from index.terms import matches, terms


def _ts(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def test_capital_in_question_matches_its_country():
    assert matches(terms("Tokyo")[0], _ts("a firm relationship with Japan"))
    assert matches(terms("Pyongyang")[0], _ts("countering North Korean cyber activities"))
    assert matches(terms("Seoul")[0], _ts("South Korea and Japan"))


def test_country_must_be_named_in_full_and_matching_is_one_way():
    assert not matches(terms("Seoul")[0], _ts("North Korea fired a missile"))  # korea alone is not South Korea
    assert not matches(terms("Japan")[0], _ts("a hotel in Tokyo"))  # a place mention is not the government
    assert matches("missil", _ts("a missile launch")) and not matches("missil", _ts("a launch"))
