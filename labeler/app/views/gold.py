"""Gold (admins): the prompts with an expected answer, how labelers did on them, and marking new ones.

A gold prompt leaves the normal queue for its kind and serves to qualify and check labelers
(`labeler.services.gold`). To mark one: find the prompt, then give the expected ranking of its
candidates (1 = best; equal ranks are ties) or write the exemplary reply.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.charts import number_text
from labeler.app.render import letter, show_conversation, show_text
from labeler.services.admin import admin_projects, find_prompts, prompt_detail
from labeler.services.gold import list_gold, mark_gold, unmark_gold
from labeler.services.projects import settings_of

K = "gold."  # session_state namespace of this page


def _expected_text(expected: dict) -> str:
    if "ranks" in expected:
        order = sorted(expected["ranks"].items(), key=lambda kv: kv[1])
        return ", ".join(f"#{cid}: {rank}" for cid, rank in order)
    turns = expected.get("turns") or []
    return (turns[0]["content"][:80] + "…") if turns and len(turns[0]["content"]) > 80 else (
        turns[0]["content"] if turns else "")


def _listing(actor, project: str) -> None:  # noqa: ANN001
    ok, gold = deps.call(list_gold, actor, project, write=False)
    if not ok:
        return
    st.subheader(f"Gold tasks ({len(gold)})")
    if not gold:
        st.caption("No gold yet: mark prompts below.")
        return
    st.dataframe([{
        "prompt": g.prompt_id, "kind": g.kind, "prompt text": g.preview, "expected": _expected_text(g.expected),
        "mean score (results)": number_text(g.mean_score, g.results), "marked by": g.created_by or "",
        "marked": g.created_at,
    } for g in gold], hide_index=True, width="stretch")
    with st.expander("Return a gold prompt to the normal queue"):
        choice = st.selectbox("Gold task", [(g.prompt_id, g.kind) for g in gold], key=f"{K}{project}.unmark",
                              format_func=lambda pk: f"prompt {pk[0]} ({pk[1]})")
        if st.button("Unmark", key=f"{K}{project}.unmark_go"):
            if deps.call(unmark_gold, actor, project, choice[0], choice[1])[0]:
                deps.flash(f"Prompt {choice[0]} is no longer {choice[1]} gold.")
                st.rerun()


def _mark(actor, project: str, kinds: list[str], ties_allowed: bool) -> None:  # noqa: ANN001
    st.subheader("Mark a prompt gold")
    kind = st.segmented_control("Kind", kinds, default=kinds[0], key=f"{K}{project}.kind") or kinds[0]
    text = st.text_input("Find a prompt (text or external id)", key=f"{K}{project}.find")
    ok, found = deps.call(find_prompts, actor, project, text, 2 if kind == "ranking" else 0, write=False)
    if not ok:
        return
    if not found:
        st.caption("No prompt matches" + (" with two or more candidates." if kind == "ranking" else "."))
        return
    options = {f["prompt_id"]: f for f in found}
    prompt_id = st.selectbox("Prompt", list(options), key=f"{K}{project}.prompt",
                             format_func=lambda pid: f"#{pid} · {options[pid]['preview']} "
                                                     f"({options[pid]['candidates']} candidates)")
    ok, detail = deps.call(prompt_detail, actor, project, prompt_id, write=False)
    if not ok:
        return
    show_conversation(detail.messages)
    ns = f"{K}{project}.{prompt_id}.{kind}"
    if kind == "ranking":
        k = len(detail.candidates)
        ranks: dict[int, int | None] = {}
        for i, c in enumerate(detail.candidates):
            with st.container(border=True):
                st.markdown(f"#### {letter(i)}")
                st.caption(f"candidate #{c.candidate_id} · {c.origin}{' · ' + c.model if c.model else ''}")
                show_text(c.text)
                ranks[c.candidate_id] = st.segmented_control(f"Expected rank of {letter(i)}", list(range(1, k + 1)),
                                                             key=f"{ns}.rank.{c.candidate_id}")
        st.caption("1 = best. " + ("Equal ranks are ties (after a tie the next rank skips: 1, 1, 3)."
                                   if ties_allowed else "This project does not allow ties."))
        if st.button("Mark as gold ranking", key=ns + ".mark", type="primary", icon=":material/star:"):
            missing = [letter(i) for i, c in enumerate(detail.candidates) if ranks[c.candidate_id] is None]
            if missing:
                st.error(f"give every candidate a rank: {', '.join(missing)} ha{'s' if len(missing) == 1 else 've'}"
                         " none")
                return
            if deps.call(mark_gold, actor, project, prompt_id, "ranking", ranks=ranks)[0]:
                deps.flash(f"Prompt {prompt_id} is now ranking gold.")
                st.rerun()
    else:
        reply = st.text_area("Exemplary assistant reply", key=ns + ".reply", height=200)
        if st.button("Mark as gold demonstration", key=ns + ".mark", type="primary", icon=":material/star:"):
            turns = [{"role": "assistant", "content": reply}]
            if deps.call(mark_gold, actor, project, prompt_id, "demonstration", turns=turns)[0]:
                deps.flash(f"Prompt {prompt_id} is now demonstration gold.")
                st.rerun()


def render_gold() -> None:
    """Gold tasks of one project and the form to mark more; the services refuse anyone but an admin."""
    actor = deps.page_actor()
    st.title("Gold")
    ok, projects = deps.call(admin_projects, actor, write=False)
    if not ok:
        return
    if not projects:
        st.info("No projects yet.")
        return
    by_name = {p.name: p for p in projects}
    names = list(by_name)
    project = tasks.select_project(names, K + "project")
    settings = settings_of(by_name[project])
    st.caption(f"Qualification: {settings.qualification_tasks} gold task(s) first, passing at "
               f"{settings.qualification_threshold:.0%}; then a gold check with probability {settings.gold_rate:.0%}. "
               "Change these on the Projects page.")
    _listing(actor, project)
    _mark(actor, project, sorted(settings.task_kinds, key=lambda k: k != "ranking"), settings.ties_allowed)


render_gold()
