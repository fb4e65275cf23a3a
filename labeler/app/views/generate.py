"""Generate (admins): sample candidate replies for a project's prompts, and its model settings.

Design constraints:
- A run is the same service the CLI calls (`generate.run_generation`): it commits prompt by prompt,
  so leaving the page mid-run keeps what was stored, and running again resumes.
- Keys are never typed here: the page names the environment variable and says whether it is set.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps
from labeler.errors import LabelerError
from labeler.services.generate import (
    GenerationRequest,
    model_settings,
    plan_generation,
    run_generation,
)
from labeler.services.projects import list_projects, update_project

K = "gen."  # session_state namespace of this page


def _models(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))


def _request(project: str, settings: dict) -> GenerationRequest:
    """The form's values as a generation request."""
    c1, c2, c3 = st.columns(3)
    k = c1.number_input("Candidates per prompt (K)", 1, 9, value=settings["k"], key=K + "k")
    temperature = c2.number_input("Temperature", 0.0, 2.0, value=float(settings["generation_temperature"]),
                                  step=0.1, key=K + "temperature")
    max_tokens = c3.number_input("Max tokens per candidate", 1, 65536, value=settings["generation_max_tokens"],
                                 key=K + "max_tokens")
    models = st.text_input("Models (comma-separated; they share K)", value=", ".join(settings["generation_models"]),
                           key=K + "models", placeholder="e.g. gpt-4o-mini, llama3.1:8b")
    c4, c5 = st.columns(2)
    limit = c4.number_input("At most this many prompts (0 = all)", 0, value=0, key=K + "limit")
    concurrency = c5.number_input("Requests in flight", 1, 256, value=settings["generation_concurrency"],
                                  key=K + "concurrency")
    return GenerationRequest(project=project, k=int(k), models=_models(models), temperature=float(temperature),
                             max_tokens=int(max_tokens), limit=int(limit) or None, concurrency=int(concurrency))


def _settings_form(actor, project: str, settings: dict) -> None:  # noqa: ANN001
    """The project's model settings (server, key variable, default models, suggestions)."""
    with st.expander("Model settings of this project", icon=":material/tune:"):
        with st.form(K + "settings"):
            base_url = st.text_input("Server (OpenAI-compatible; empty = OPENAI_BASE_URL or api.openai.com)",
                                     value=settings["model_base_url"] or "", key=K + "base_url")
            key_env = st.text_input("Environment variable holding the key (its name, not the key)",
                                    value=settings["model_api_key_env"], key=K + "key_env")
            models = st.text_input("Default generation models (comma-separated)",
                                   value=", ".join(settings["generation_models"]), key=K + "default_models")
            suggestion = st.text_input("Suggestion model for Demonstrate (empty = no Suggest button)",
                                       value=settings["suggestion_model"] or "", key=K + "suggestion")
            if st.form_submit_button("Save model settings"):
                values = {"model_base_url": base_url.strip() or None, "model_api_key_env": key_env.strip(),
                          "generation_models": list(_models(models)), "suggestion_model": suggestion.strip() or None}
                ok, _ = deps.call(update_project, actor, project, settings=values)
                if ok:
                    deps.flash("Model settings saved.")
                    st.rerun()


def _show_plan(plan) -> None:  # noqa: ANN001
    st.subheader("Dry run: nothing was sent")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Prompts needing candidates", f"{plan.prompts:,}")
    c2.metric("Candidates to ask for", f"{plan.candidates:,}")
    c3.metric("Requests", f"{plan.requests:,}")
    c4.metric("Tokens (in / at most out)", f"~{plan.est_prompt_tokens:,} / {plan.est_completion_tokens_max:,}")
    for body in plan.sample:
        st.json(body, expanded=False)


def _show_summary(summary: dict) -> None:
    st.subheader("Last run")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Prompts done", f"{summary['prompts_done']:,} of {summary['prompts_planned']:,}")
    c2.metric("Candidates stored", f"{summary['candidates']:,}")
    c3.metric("Tokens in / out", f"{summary['prompt_tokens']:,} / {summary['completion_tokens']:,}")
    c4.metric("Failed prompts", f"{summary['failed']:,}")
    st.caption(f"{summary['requests']:,} request(s) in {summary['seconds']:.1f}s"
               + (f"; {summary['duplicates']} duplicate(s) not stored" if summary["duplicates"] else ""))
    if summary["aborted"]:
        st.error(f"Generation stopped: {summary['aborted']}")
    if summary["failures"]:
        st.warning(f"{summary['failed']} prompt(s) failed; generate again to retry them.")
        st.dataframe(summary["failures"], hide_index=True, width="stretch")
    elif not summary["aborted"]:
        st.success(f"Done: {summary['candidates']:,} candidate(s) stored for {summary['prompts_done']:,} prompt(s).")


def _run(actor, request: GenerationRequest) -> None:  # noqa: ANN001
    with st.status(f"Generating for `{request.project}`…", expanded=True) as status:
        bar = st.progress(0.0, text="starting")

        def progress(done: int, total: int) -> None:
            bar.progress(min(1.0, done / total) if total else 1.0, text=f"{done:,} of {total:,} prompts")

        try:
            summary = run_generation(actor, request, progress=progress)
        except LabelerError as e:
            status.update(label="Generation refused", state="error")
            st.error(str(e))
            return
        failed = bool(summary.aborted or summary.failures)
        status.update(label="Generation finished" + (" with failures" if failed else ""),
                      state="error" if summary.aborted else "complete")
    st.session_state[K + "last"] = summary.to_dict()


def render_generate() -> None:
    """The page; every service call refuses anyone but an admin."""
    actor = deps.page_actor()
    st.title("Generate")
    ok, projects = deps.call(list_projects, actor, write=False)
    if not ok:
        return
    if not projects:
        st.info("No projects yet.")
        return
    project = st.selectbox("Project", [p.name for p in projects], key=K + "project")
    ok, settings = deps.call(model_settings, actor, project, write=False)
    if not ok:
        return
    if settings["key_set"]:
        st.caption(f"Server: {settings['server']} (key from `${settings['model_api_key_env']}`)")
    else:
        st.warning(f"No model key: set the environment variable `{settings['model_api_key_env']}` where the app "
                   f"runs (any value for a local server that checks none), then reload. Server: {settings['server']}")
    _settings_form(actor, project, settings)
    request = _request(project, settings)
    plan_col, run_col = st.columns(2)
    if plan_col.button("Dry run", key=K + "plan", icon=":material/visibility:"):
        ok, plan = deps.call(plan_generation, actor, request, write=False)
        if ok:
            _show_plan(plan)
    if run_col.button("Generate", key=K + "run", type="primary", icon=":material/auto_awesome:",
                      disabled=not settings["key_set"]):
        _run(actor, request)
    last = st.session_state.get(K + "last")
    if last and last["project"] == project:
        _show_summary(last)


render_generate()
