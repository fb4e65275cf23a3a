"""One editor for memberships, from either side: a project's members (Projects) or a user's projects (Users).

The service (`admin.set_project_members` / `admin.set_user_projects`) checks every name and makes the
choice exactly the memberships; this widget only offers the choice and reports what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from labeler.app import deps
from labeler.services.actors import Actor


def membership_editor(actor: Actor, owner: str, label: str, options: list[str], current: list[str], *,
                      keys: tuple[str, str], button: str, icon: str, save: Callable[..., Any], saved: str,
                      format_func: Callable[[str], str] = str) -> None:
    """A multiselect of `options` (starting at `current`) and a save button calling `save(actor, owner, chosen)`.

    `keys` are the widget keys of the multiselect and of the button.
    """
    chosen = st.multiselect(label, options, default=current, key=keys[0], format_func=format_func)
    if st.button(button, key=keys[1], icon=icon):
        ok, changes = deps.call(save, actor, owner, chosen)
        if ok:
            added, removed = changes
            deps.flash(f"{saved} `{owner}` saved: {len(added)} added, {len(removed)} removed.")
            st.rerun()
