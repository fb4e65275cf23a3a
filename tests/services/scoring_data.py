"""A hand-made ranking set with a reward-model stub of fixed scores, for the scoring and agreement tests.

Every candidate's text names its score (`score 4.0 ...`), so the stub scorer reads the score off the
reply: no model, exact numbers. `expected` below is counted by hand from the table in `build`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from db.models import UNSCORED_MARGIN, Candidate, Project, Prompt, Ranking, RankingItem
from labeler.services import session_scope
from tests.factories import make_project, make_user

STUB = "stub-reward-model"


def stub_scorer(conversations: Sequence[list[dict[str, str]]]) -> list[float]:
    """The score written in each reply (`score <x> ...`): a reward model with fixed scores."""
    out = []
    for conv in conversations:
        assert conv[-1]["role"] == "assistant" and conv[0]["role"] == "user"
        out.append(float(conv[-1]["content"].split()[1]))
    return out


def add_prompt(project: str, split: str, scores: Sequence[float], tag: str) -> tuple[int, list[int]]:
    """A prompt of `split` with one candidate per score; (prompt id, candidate ids)."""
    with session_scope() as s:
        pid = s.scalar(select(Project.id).where(Project.name == project))
        prompt = Prompt(project_id=pid, messages=[{"role": "user", "content": f"question {tag}"}],
                        content_hash=f"{tag:0>32}"[:32], source="test", split=split)
        s.add(prompt)
        s.flush()
        cands = [Candidate(prompt_id=prompt.id, text=f"score {sc} reply {j} of {tag}", text_hash=f"{tag}-{j}",
                           origin="generated") for j, sc in enumerate(scores)]
        s.add_all(cands)
        s.flush()
        return prompt.id, [c.id for c in cands]


def add_candidate(prompt_id: int, score: float, tag: str) -> int:
    with session_scope() as s:
        c = Candidate(prompt_id=prompt_id, text=f"score {score} late reply {tag}", text_hash=f"late-{tag}",
                      origin="generated")
        s.add(c)
        s.flush()
        return c.id


def add_ranking(prompt_id: int, ranks: dict[int, int], *, labeler: int | None = None, status: str = "submitted",
                origin: str = "human", none_acceptable: bool = False) -> int:
    """A ranking stored as the labeling service stores one (candidate id -> rank)."""
    with session_scope() as s:
        r = Ranking(prompt_id=prompt_id, labeler_id=labeler, status=status, origin=origin,
                    source=None if origin == "human" else "hh-rlhf", display_order=list(ranks),
                    none_acceptable=none_acceptable)
        r.items = [RankingItem(candidate_id=cid, rank=rank, position=i) for i, (cid, rank) in enumerate(ranks.items())]
        s.add(r)
        s.flush()
        return r.id


def build(project: str = "rm") -> dict:
    """The set: prompts, candidates (scores in their text) and rankings; ids by name."""
    alice, bob = make_user("alice"), make_user("bob")
    make_project(project, ("alice", "bob"))
    ids: dict = {"alice": alice, "bob": bob}
    # test split
    p1, c1 = add_prompt(project, "test", [4.0, 3.0, 2.0, 1.0], "p1")
    ids["p1"] = (p1, c1)
    ids["r_agree"] = add_ranking(p1, {c1[0]: 1, c1[1]: 2, c1[2]: 3, c1[3]: 4}, labeler=alice.id)  # 6 of 6
    ids["r_reverse"] = add_ranking(p1, {c1[0]: 4, c1[1]: 3, c1[2]: 2, c1[3]: 1}, labeler=bob.id,
                                   status="accepted")  # 0 of 6
    p2, c2 = add_prompt(project, "test", [1.0, 1.0, 5.0], "p2")
    ids["p2"] = (p2, c2)
    # c0 first, c2 second, c1 third: (c0,c2) 1<5 disagree; (c0,c1) equal scores; (c2,c1) 5>1 agree
    ids["r_mixed"] = add_ranking(p2, {c2[0]: 1, c2[2]: 2, c2[1]: 3}, labeler=alice.id)
    ids["r_tied"] = add_ranking(p2, {c2[0]: 1, c2[1]: 1, c2[2]: 2}, labeler=bob.id)  # 1 human tie left out: 2 pairs
    # valid split: imported preferences, and rankings that do not count
    p3, c3 = add_prompt(project, "valid", [2.0, 1.0], "p3")
    ids["p3"] = (p3, c3)
    add_ranking(p3, {c3[0]: 1, c3[1]: 2}, origin="imported", status="accepted")  # imported 1 of 1
    add_ranking(p3, {c3[0]: 2, c3[1]: 1}, labeler=alice.id, status="draft")  # not counted
    add_ranking(p3, {c3[0]: 2, c3[1]: 1}, labeler=bob.id, status="rejected")  # not counted
    add_ranking(p3, {c3[0]: 2, c3[1]: 1}, labeler=bob.id, none_acceptable=True)  # not counted
    # train split: a later candidate makes an unscored pair until the next run
    p4, c4 = add_prompt(project, "train", [3.5, 1.25], "p4")
    ids["p4"] = (p4, c4)
    ids["r_train"] = add_ranking(p4, {c4[0]: 2, c4[1]: 1}, labeler=alice.id)  # 0 of 1
    p5, c5 = add_prompt(project, "train", [9.0], "p5")  # one candidate: no margin
    ids["p5"] = (p5, c5)
    return ids


# By hand from `build`: labelers' test pairs: r_agree 6/6, r_reverse 0/6, r_mixed 1/3 (one score tie),
# r_tied 0/2 ((c0,c2) and (c1,c2) disagree; its tie (c0,c1) is left out). Hence 7 of 17 with 1 score tie.
EXPECTED_TEST = {"pairs": 17, "agree": 7, "score_ties": 1, "unscored_pairs": 0}
EXPECTED_MARGINS = {"p1": 1.0, "p2": 4.0, "p3": 1.0, "p4": 2.25, "p5": UNSCORED_MARGIN}  # p5: one candidate
