"""Entry point (`labeler serve`): migrate once, find the logged-in user, show their role's pages.

Navigation is the first gate (a page not listed for a role cannot be reached by URL); every page
checks again through the services, which enforce the permissions themselves.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps
from labeler.errors import Unavailable


def _page(name: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(f"views/{name}.py", title=title, icon=icon, url_path=name, default=default)


# Every page: (file under views/, title, icon, roles that may open it). The first is the default.
# Add a page with one line here; main() builds the navigation from this table.
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
    ("gold", "Gold", ":material/star:", ("admin",)),
    ("export", "Export", ":material/download:", ("admin",)),
    ("generate", "Generate", ":material/auto_awesome:", ("admin",)),
    ("finetune", "Fine-tuning", ":material/model_training:", ("admin",)),
)
PAGE_PATHS = tuple(name for name, *_ in PAGES)


def pages_for(role: str | None) -> list[st.Page]:
    """The pages a role may open; logged out, only the login form (under every page's address,
    so that a reload of /rank asks for the password and then opens Rank, instead of "page not found")."""
    if role is None:
        login = [_page("login", "Log in", ":material/login:", default=True)]
        return login + [st.Page("views/login.py", title="Log in", url_path=path) for path in PAGE_PATHS]
    allowed = [(name, title, icon) for name, title, icon, roles in PAGES if role in roles]
    return [_page(name, title, icon, default=i == 0) for i, (name, title, icon) in enumerate(allowed)]


def main() -> None:
    """Render the app for the current session; a lost database server is a message, and the next run retries."""
    st.set_page_config(page_title="labeler", page_icon=":material/rate_review:", layout="wide")
    try:
        _render()
    except Unavailable as e:
        st.error(str(e), icon=":material/cloud_off:")


def _render() -> None:
    deps.ensure_database()
    actor = deps.current_actor()
    navigation = st.navigation(pages_for(actor.role if actor else None),
                               position="sidebar" if actor else "hidden")
    if actor is not None:
        with st.sidebar:
            st.caption(f"Logged in as **{actor.username}** ({actor.role})")
            if st.button("Log out", key="logout", icon=":material/logout:"):
                deps.logout("You have been logged out.")
                st.rerun()
    deps.show_flash()
    navigation.run()


main()
