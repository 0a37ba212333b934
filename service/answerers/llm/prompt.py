"""The grounded prompt: the retrieved passages' sentences, numbered; the reply cites those numbers.
And the "condense" prompt that turns a follow-up into a stand-alone question. Pure functions."""
from __future__ import annotations

NOT_FOUND = "NOT IN THE ARTICLES"

SYSTEM = (
    "You answer questions about news articles using only the numbered sentences you are given. "
    "Write one to three short sentences. End every sentence with the number of the sentence it comes from in "
    "square brackets, like [2]; cite only numbers you were given. Do not add facts that the cited sentence does "
    f"not state. If the sentences do not answer the question, reply exactly: {NOT_FOUND}"
)

CONDENSE = (
    "Rewrite the last question of a conversation as one stand-alone question that names what its pronouns "
    "refer to. Reply with the question only."
)


def answer_messages(question: str, numbered: list[tuple[int, str, str]]) -> list[dict]:
    """`numbered`: (n, article title, sentence text)."""
    lines = [f"[{n}] ({title}) {text}" for n, title, text in numbered]
    user = "Sentences:\n" + "\n".join(lines) + f"\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def condense_messages(question: str, history: list[tuple[str, str]]) -> list[dict]:
    turns = "\n".join(f"Q: {q}\nA: {a}" for q, a in history[-3:])
    return [{"role": "system", "content": CONDENSE},
            {"role": "user", "content": f"{turns}\nLast question: {question}"}]
