"""Who is acting: the actor every service receives, and the role checks that guard each service.

Permissions are enforced here, never by hiding buttons: a labeler calling an admin service gets
`Forbidden` whatever the page showed.
"""

from __future__ import annotations

from dataclasses import dataclass

from labeler.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    """A logged-in user (or the local operator) as the services see them."""

    id: int | None
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# Whoever runs the CLI on the database's machine can already read and write the database file,
# so the CLI acts as this built-in admin unless `--as USER` names a real account.
OPERATOR = Actor(id=None, username="cli", role="admin")


def require_role(actor: Actor, *roles: str) -> None:
    """Raise Forbidden unless the actor has one of `roles`."""
    if actor.role not in roles:
        allowed = " or ".join(roles)
        raise Forbidden(f"`{actor.username}` is a {actor.role}; this needs an {allowed}")


def require_admin(actor: Actor) -> None:
    """Raise Forbidden unless the actor is an admin."""
    require_role(actor, "admin")
