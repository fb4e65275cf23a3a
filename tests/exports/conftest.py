"""Hand-made rows for the exporter tests: small, readable, and covering every rule.

Rankings: a 4-way ranking with a tie and a flagged candidate, a Likert-scored ranking whose
scores disagree with one rank, "none acceptable", unranked items with a multi-turn, non-ASCII
prompt, a skipped ranking, and three labelers' rankings of one prompt (for consensus).
Demonstrations: single-turn, multi-turn with a model-written turn, a context that already holds an
assistant turn, a skipped one, and texts that contain the default legacy markers.
"""

from __future__ import annotations

import pytest

from exports.rows import DemonstrationRow, RankedItem, RankingRow

USER = {"role": "user", "content": "Name a fruit."}


def ranking(ranking_id, prompt_id, items, *, split="train", messages=(USER,), labeler="ann", **kw):
    """A ranking row from `(candidate_id, text, rank, likert, flags)` tuples."""
    return RankingRow(
        ranking_id=ranking_id, prompt_id=prompt_id, split=split, messages=list(messages),
        items=[RankedItem(candidate_id=c, text=t, model="m1", rank=r, likert=lk, flags=list(fl), position=i)
               for i, (c, t, r, lk, fl) in enumerate(items)],
        labeler=labeler, submitted_at="2025-03-01T10:00:00Z",
        **{"split_key": f"user-{prompt_id}", "split_by": "user", "source": "fruit.jsonl", **kw},
    )


@pytest.fixture
def ranking_rows() -> list[RankingRow]:
    """Five rankings, one per rule (see the module docstring), ordered by prompt id."""
    return [
        ranking(1, 1, [(11, "Apple.", 1, None, []), (12, "Banana.", 2, None, []),
                       (13, "A banana!", 2, None, ["hallucination"]), (14, "No.", 4, None, ["rude"])]),
        ranking(2, 2, [(21, "Cherry, a stone fruit.", 1, 7, []), (22, "Plum.", 2, 4, []),
                       (23, "Cherry", 3, 5, [])], split="valid", labeler="bob"),
        ranking(3, 3, [(31, "Rock.", 1, None, []), (32, "Car.", 2, None, [])], none_acceptable=True),
        ranking(4, 4, [(41, "Pomme — une pomme, café ☕", 1, None, []), (42, "日本の梨", 2, None, []),
                       (43, "unranked", None, None, [])],
                messages=[{"role": "system", "content": "Answer in French."},
                          {"role": "user", "content": "Un fruit ?"},
                          {"role": "assistant", "content": "Lequel ?"},
                          {"role": "user", "content": "Un fruit rouge."}],
                split="test", labeler=None, origin="imported", external_id="ext-4", time_source="import",
                split_key="9b2c51e1d8e5f8a3c04f2d7e6a1b0c93", split_by="root"),
        ranking(5, 5, [(51, "Kiwi.", None, None, []), (52, "Lime.", None, None, [])], status="skipped"),
    ]


@pytest.fixture
def panel_rows() -> list[RankingRow]:
    """Three labelers rank prompt 6's candidates A, B, C: twice A > B > C, once B > A > C."""
    a, b, c = (61, "A"), (62, "B"), (63, "C")
    return [
        ranking(6, 6, [(*a, 1, 6, []), (*b, 2, 5, []), (*c, 3, 1, [])], labeler="ann"),
        ranking(7, 6, [(*a, 1, 7, []), (*b, 2, 4, []), (*c, 3, 2, ["rude"])], labeler="bob"),
        ranking(8, 6, [(*b, 1, 6, []), (*a, 2, 5, []), (*c, 3, 3, [])], labeler="cy"),
    ]


def demo(demonstration_id, prompt_id, messages, turns, *, split="train", **kw):
    """A demonstration row."""
    return DemonstrationRow(demonstration_id=demonstration_id, prompt_id=prompt_id, split=split,
                            messages=list(messages), turns=list(turns), labeler="ann",
                            submitted_at="2025-03-02T09:00:00Z", **kw)


def _a(text, **kw):
    return {"role": "assistant", "content": text, **kw}


def _u(text):
    return {"role": "user", "content": text}


@pytest.fixture
def demo_rows() -> list[DemonstrationRow]:
    """Four demonstrations (see the module docstring)."""
    return [
        demo(1, 10, [_u("Write a haiku about autumn.")],
             [_a("Leaves drift in cold wind,\nred and gold on quiet paths —\nthe year exhales slow.")]),
        demo(2, 11, [{"role": "system", "content": "Be brief."}, _u("Plan a picnic.")],
             [_a("Bread, cheese, fruit."), _u("And drinks?"), _a("Lemonade and water.")],
             human_turns=[0, 1], split="valid"),
        demo(3, 12, [_u("Hi"), _a("Hello! How can I help?", weight=1), _u("Tell me a joke.")],
             [_a("Why did the scarecrow win an award? He was outstanding in his field.")]),
        demo(4, 13, [_u("Skip me")], [_a("x")], status="skipped"),
    ]


@pytest.fixture
def marker_rows() -> list[DemonstrationRow]:
    """Texts that hold the default legacy separator and stop, so the chooser must pick others."""
    return [
        demo(5, 14, [_u("Markdown rule?\n\n###\n\nLike that.")], [_a("Yes, that is a heading marker.")]),
        demo(6, 15, [_u("How do films end?")], [_a("With THE END")]),
    ]


@pytest.fixture
def prompt_rows():
    """Prompts for the RL formats: a reference answer, a system turn, none, multi-turn non-ASCII, an id."""
    from exports.prompts import PromptRow

    return [
        PromptRow(prompt_id=1, split="train", messages=[USER], reference="Apple."),
        PromptRow(prompt_id=2, split="train", messages=[{"role": "system", "content": "Answer with a number."},
                                                         _u("What is 6 x 7?")], reference="42"),
        PromptRow(prompt_id=3, split="valid", messages=[_u("Tell me a story.")]),
        PromptRow(prompt_id=4, split="test", external_id="ext-4", reference="une pomme",
                  messages=[_u("Un fruit ?"), _a("Lequel ?"), _u("Un fruit rouge — café ☕")]),
    ]


@pytest.fixture
def scope_rows():
    """Resolved scope labels: one turn, off-limits with a reason, multi-turn non-ASCII with a system turn."""
    from exports.classification import ScopeRow

    return [
        ScopeRow(prompt_id=1, split="train", messages=[USER], label="answerable"),
        ScopeRow(prompt_id=2, split="train", messages=[_u("How do I pick a lock?")], label="off-limits",
                 reason="unsafe"),
        ScopeRow(prompt_id=3, split="valid", label="answerable",
                 messages=[{"role": "system", "content": "Be brief."}, _u("Un fruit ?"), _a("Lequel ?"),
                           _u("Un fruit rouge — café ☕")]),
    ]


@pytest.fixture
def comparison_rows():
    """A model comparison report of three models over a few prompts (ties counted half), as the service hands it."""
    from analytics.comparison import ComparisonTally
    from exports.comparison import ComparisonRow

    tally = ComparisonTally(rounds=20, seed=0)
    for prompt_id, a, b, wins, ties, games in [(1, "m-new", "m-old", 1, 0, 1), (2, "m-new", "m-old", 0, 1, 1),
                                               (3, "m-new", "m-old", 1, 0, 1), (3, "m-new", "m-base", 1, 0, 1),
                                               (4, "m-old", "m-base", 1, 0, 1), (5, "m-base", "m-new", 0, 0, 1)]:
        tally.add(prompt_id, a, b, wins, ties, games)
    return [ComparisonRow(tally.result().to_dict())]
