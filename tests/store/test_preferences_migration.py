"""Migration 0011 (`users.preferences`) keeps existing users, who read every default, on both backends."""

from __future__ import annotations

from sqlalchemy import text

from db.engine import create_store_engine
from db.migrate import current_revision, downgrade, head_revision, upgrade
from labeler.services import session_scope
from labeler.services.actors import Actor
from labeler.services.preferences import get_preferences, set_preference

USER = ("INSERT INTO users (id, username, display_name, role, active, failed_logins, created_at) "
        "VALUES (1, 'olga', '', 'labeler', true, 0, '2026-01-01 00:00:00+00')")


def test_0011_gives_existing_users_the_defaults_and_round_trips(db_url):
    engine = create_store_engine(db_url)
    downgrade(engine, "0010")
    with engine.begin() as conn:
        conn.execute(text(USER))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    olga = Actor(id=1, username="olga", role="labeler")
    with session_scope() as s:
        assert get_preferences(s, olga) == {"show_markdown": False}
        set_preference(s, olga, "show_markdown", True)
    downgrade(engine, "0010")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["olga"]
    upgrade(engine)
    with session_scope(write=False) as s:
        assert get_preferences(s, olga) == {"show_markdown": False}
    engine.dispose()
