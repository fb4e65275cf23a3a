"""One exception hierarchy for every rule the services enforce.

The CLI and the app translate these into clean messages at the edge; anything else that escapes
is a bug and must surface as a traceback in tests.
"""


class LabelerError(Exception):
    """Base of every error a user can cause and should read."""


class NotFound(LabelerError):
    """The named object does not exist."""


class Conflict(LabelerError):
    """The request clashes with the stored state (duplicate name, stale lease, ...)."""


class Invalid(LabelerError):
    """Input that breaks a rule: bad settings, malformed import records, wrong formats."""


class Forbidden(LabelerError):
    """The actor's role does not allow this action."""


class Unavailable(LabelerError):
    """The database server cannot be reached (down, restarting, network): try again in a moment."""
