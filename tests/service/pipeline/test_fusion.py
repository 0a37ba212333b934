from service.pipeline.fusion import rrf


def test_items_ranked_high_in_several_lists_win():
    fused = rrf([[1, 2, 3], [3, 1, 4], [1, 3]], k=5)
    assert [i for i, _ in fused][:2] == [1, 3]
    assert {i for i, _ in fused} == {1, 2, 3, 4}


def test_scores_follow_the_formula_and_weights():
    (a, sa), (b, sb) = rrf([[7, 8]], k=60)
    assert (a, b) == (7, 8) and sa == 1 / 61 and sb == 1 / 62
    fused = dict(rrf([[1], [2]], k=10, weights=[1.0, 2.0]))
    assert fused[2] == 2 * fused[1]


def test_ties_keep_first_appearance_and_empty_lists_are_fine():
    assert [i for i, _ in rrf([[5], [6]], k=60)] == [5, 6]
    assert rrf([[], []]) == []
