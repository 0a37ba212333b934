"""Follow-up questions without an LLM: pronouns and ellipses resolved from the previous turn, in
the pure resolver and through the API (plain and streamed)."""
from __future__ import annotations

import json

from service.pipeline.followup import Turn, resolve

DEFENSE = Turn("Who is the U.S. defense secretary?", "U.S. Defense Secretary Lloyd Austin … [1]", "Lloyd Austin")
SHARING = Turn("When did real-time missile-data sharing start?", "… [1]", "December 2023")


def test_pronouns_take_the_previous_short_answer_of_their_kind():
    assert resolve("When is he expected to visit South Korea?", [DEFENSE]) == \
        "When is Lloyd Austin expected to visit South Korea?"
    assert resolve("What did his ministry say?", [DEFENSE]) == "What did Lloyd Austin's ministry say?"
    assert resolve("What happened then?", [SHARING]) == "What happened in December 2023?"


def test_a_pronoun_with_no_referent_of_its_kind_is_left_alone():
    assert resolve("Who proposed it?", [SHARING]) == "Who proposed it?"  # a date is not an "it"
    abstained = Turn("Who is the U.S. defense secretary?", "The articles do not say.", None)
    assert resolve("When is he expected to visit?", [abstained]) == "When is he expected to visit?"  # "U.S." is no "he"
    assert resolve("Who said that?", [DEFENSE]) == "Who said that?"


def test_an_ellipsis_reuses_the_previous_question():
    assert resolve("And Japan?", [DEFENSE]) == "Who is the Japan defense secretary?"
    assert resolve("What about Tokyo?", [Turn("What did Seoul announce?", "", None)]) == "What did Tokyo announce?"


def test_no_history_no_change():
    assert resolve("When is he expected to visit?", []) == "When is he expected to visit?"


def test_the_api_answers_a_follow_up_from_the_right_sentence(client):
    first = client.post("/api/ask", json={"question": DEFENSE.question}).json()
    history = [{"question": first["question"], "answer": first["answer"], "short_answer": first["short_answer"]}]
    r = client.post("/api/ask", json={"question": "When is he expected to visit South Korea?", "history": history})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["question"] == "When is he expected to visit South Korea?"
    assert "Austin" in data["standalone_question"]
    assert not data["abstained"] and "later this month" in data["answer"]
    assert "Austin is expected to visit South Korea later this month" in data["citations"][0]["quote"]
    # without the history the question is searched as asked
    assert client.post("/api/ask", json={"question": "When is he expected to visit South Korea?"}).json()[
        "standalone_question"] is None


def test_the_answer_streams_as_server_sent_events(client):
    with client.stream("POST", "/api/ask", json={"question": "When did real-time missile-data sharing start?",
                                                  "stream": True}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        body = "".join(resp.iter_text())
    events = [(b.split("\n")[0][len("event: "):], json.loads(b.split("\n")[1][len("data: "):]))
              for b in body.strip().split("\n\n")]
    assert [name for name, _ in events] == ["passages", "final"]
    assert len(events[0][1]["passages"]) == 5
    final = events[-1][1]
    plain = client.post("/api/ask", json={"question": "When did real-time missile-data sharing start?"}).json()
    assert {k: v for k, v in final.items() if k != "timings_ms"} == {k: v for k, v in plain.items() if k != "timings_ms"}
    # Accept: text/event-stream asks for the same
    with client.stream("POST", "/api/ask", json={"question": "When did real-time missile-data sharing start?"},
                       headers={"Accept": "text/event-stream"}) as resp:
        assert "event: final" in "".join(resp.iter_text())


def test_history_is_validated(client):
    r = client.post("/api/ask", json={"question": "And Japan?", "history": [{"answer": "x"}]})
    assert r.status_code == 422
