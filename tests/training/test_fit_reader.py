"""The calibration's pure parts: the open setting's corpus and questions, the threshold rule shared
by the reader (training/reader/fit.py) and the fallback (training/calibrate.py), and CV by article."""
import numpy as np

from training import calibrate
from training.reader import fit as fit_reader


def test_open_set_takes_answer_sentences_out_of_the_corpus(normandy_article):
    corpus, ask = fit_reader.open_set([normandy_article], n_answerable=10, n_removed=1, seed=0)
    text = "\n".join(p["context"] for p in corpus[0]["paragraphs"])
    removed = [q for q in ask if q["kind"] == "removed"]
    assert len(removed) == 1 and not removed[0]["answerable"] and removed[0]["answers"] == []
    gold = next(q for p in normandy_article["paragraphs"] for q in p["qas"] if q["id"] == removed[0]["id"])
    assert gold["answers"][0]["text"] not in text  # the fact is gone from the corpus ...
    answerable = [q for q in ask if q["kind"] == "answerable"]
    # ... and no answerable question is asked over a paragraph that was cut
    assert answerable and all(q["context"] in text and q["answers"][0] in text for q in answerable)


def test_the_threshold_is_the_best_balanced_score_within_the_false_abstention_cap():
    # p: the calibrated probability; answer when p >= t
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.5, 0.3, 0.1])
    answerable = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    right = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    # t = 0.7 abstains on every unanswerable one but on 1 of 4 answerable: not allowed at a 15 % cap
    assert fit_reader.choose(p, answerable, right, 0.15) == 0.2
    assert fit_reader.choose(p, answerable, right, 0.25) == 0.7
    # the fallback's rule is the same (on its grid of thresholds: the same questions abstained)
    t = calibrate.choose_threshold(calibrate.sweep(p, answerable, right), p, answerable, right)["threshold"]
    assert ((p < t) == (p < 0.2)).all()


def test_cross_validation_folds_by_article():
    rng = np.random.default_rng(0)
    rows = []
    for a in range(10):
        for i in range(20):
            answerable = i % 2 == 0
            margin = rng.normal(2.0 if answerable else -2.0)
            rows.append({"margin": margin, "score": margin, "null": -margin, "answerable": answerable,
                         "right": answerable and margin > 0, "article": f"a{a}"})
    fit = fit_reader.fit(rows, ["margin", "score", "null"], 0.15)
    assert fit["cv"] is not None and fit["cv"]["false_abstain"] <= 0.25
    assert fit["cv"]["overall_balanced"] > 0.85  # separable by margin: the fit finds it out of fold
    assert fit["weights"]["margin"] > 0


def test_near_only_writes_the_bar_of_its_sentence_vectors_and_nothing_else(tmp_path):
    """--near-only (with rows of an earlier run): the 5th percentile of the answerable questions'
    closest-sentence cosine goes into the open and two-stage entries under the key of this run's
    sentence vectors; the fits and the pooled entry (separate sentence vectors) are left as they were."""
    import argparse
    import json

    from service.answerers.reader.answerer import SECOND_KEY

    rows = [{"answerable": True, "near": 0.30 + 0.01 * i} for i in range(40)] + \
        [{"answerable": False, "near": 0.1}, {"answerable": True, "near": None}]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    cal = {"open": {"threshold": 0.3, "near_cosine": 0.5}, SECOND_KEY: {"threshold": 0.4},
           "open_pooled": {"near_cosine": 0.49}}
    path = tmp_path / "calibration.json"
    args = argparse.Namespace(first="", model=str(tmp_path), rows=str(tmp_path / "rows.json"))
    assert fit_reader._near_only(args, [], cal, path, "near_cosine_late") == 0
    written = json.loads(path.read_text())
    bar = round(float(np.percentile([0.30 + 0.01 * i for i in range(40)], 5)), 4)
    assert written["open"]["near_cosine_late"] == written[SECOND_KEY]["near_cosine_late"] == bar
    assert written["open"]["near_cosine"] == 0.5 and written["open"]["threshold"] == 0.3
    assert "near_cosine_late" not in written["open_pooled"]
