"""Entry point (`labeler serve`): migrate once, find the logged-in user, show their role's pages.

Navigation is the first gate (a page not listed for a role cannot be reached by URL); every page
checks again through the services, which enforce the permissions themselves.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from labeler.app import deps
from labeler.app.render import MARKDOWN_KEY
from labeler.errors import Unavailable


def _page(name: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(f"views/{name}.py", title=title, icon=icon, url_path=name, default=default)


# Every page: (file under views/, title, icon, roles that may open it). A role's first page is its default,
# except that admins land on the Dashboard. Add a page with one line here; main() builds the navigation
# from this table, grouped by SECTIONS (so no page hides behind "View more").
PAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("demonstrate", "Demonstrate", ":material/edit_note:", ("labeler", "reviewer", "admin")),
    ("rank", "Rank", ":material/format_list_numbered:", ("labeler", "reviewer", "admin")),
    ("my_work", "My work", ":material/insights:", ("labeler", "reviewer", "admin")),
    ("review", "Review", ":material/rate_review:", ("reviewer", "admin")),
    ("paraphrases", "Paraphrases", ":material/translate:", ("labeler", "reviewer", "admin")),
    ("dashboard", "Dashboard", ":material/monitoring:", ("admin",)),
    ("projects", "Projects", ":material/folder:", ("admin",)),
    ("users", "Users", ":material/group:", ("admin",)),
    ("import_data", "Import", ":material/upload_file:", ("admin",)),
    ("labelers", "Labelers", ":material/badge:", ("admin", "reviewer")),
    ("quality", "Quality", ":material/query_stats:", ("admin", "reviewer")),
    ("models", "Models", ":material/leaderboard:", ("admin", "reviewer")),
    ("gold", "Gold", ":material/star:", ("admin",)),
    ("export", "Export", ":material/download:", ("admin",)),
    ("generate", "Generate", ":material/auto_awesome:", ("admin",)),
    ("finetune", "Fine-tuning", ":material/model_training:", ("admin",)),
)
PAGE_PATHS = tuple(name for name, *_ in PAGES)
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Labeling", ("demonstrate", "rank", "my_work", "paraphrases")),
    ("Reviewing", ("review", "labelers", "quality", "models", "gold")),
    ("Admin", ("dashboard", "projects", "users", "import_data", "generate", "export", "finetune")),
)
LANDING = {"admin": "dashboard"}
ICON = Path(__file__).resolve().parent / "static" / "icon.png"


def _pages_by_name(role: str) -> dict[str, st.Page]:
    allowed = [(name, title, icon) for name, title, icon, roles in PAGES if role in roles]
    landing = LANDING.get(role, allowed[0][0])
    return {name: _page(name, title, icon, default=name == landing) for name, title, icon in allowed}


def pages_for(role: str | None) -> list[st.Page]:
    """The pages a role may open; logged out, only the login form (under every page's address,
    so that a reload of /rank asks for the password and then opens Rank, instead of "page not found")."""
    if role is None:
        login = [_page("login", "Log in", ":material/login:", default=True)]
        return login + [st.Page("views/login.py", title="Log in", url_path=path) for path in PAGE_PATHS]
    return list(_pages_by_name(role).values())


def navigation_for(role: str | None) -> list[st.Page] | dict[str, list[st.Page]]:
    """The role's pages grouped into sections (one section alone is shown as a plain list)."""
    if role is None:
        return pages_for(None)
    by_name = _pages_by_name(role)
    groups = {title: [by_name[n] for n in names if n in by_name] for title, names in SECTIONS}
    groups = {title: group for title, group in groups.items() if group}
    return groups if len(groups) > 1 else list(by_name.values())


def main() -> None:
    """Render the app for the current session; a lost database server is a message, and the next run retries."""
    st.set_page_config(page_title="labeler", page_icon=str(ICON), layout="wide")
    try:
        _render()
    except Unavailable as e:
        st.error(str(e), icon=":material/cloud_off:")


def _render() -> None:
    deps.ensure_database()
    actor = deps.current_actor()
    navigation = st.navigation(navigation_for(actor.role if actor else None),
                               position="sidebar" if actor else "hidden", expanded=True)
    if actor is not None:
        deps.load_preferences(actor)
        with st.sidebar:
            st.caption(f"Logged in as **{actor.username}** ({actor.role})")
            st.toggle("Show Markdown", key=MARKDOWN_KEY, on_change=deps.store_preference, args=(actor, "show_markdown"),
                      help="Off: texts are shown exactly as written (line breaks, indentation, code). "
                           "On: rendered as Markdown (raw HTML is never run). Kept with your account.")
            if st.button("Log out", key="logout", icon=":material/logout:"):
                deps.logout("You have been logged out.")
                st.rerun()
    deps.sync_cookie()
    deps.show_flash()
    navigation.run()


main()
