"""Errors the exporters raise; the service layer translates them into `labeler.errors` at its edge.

`exports` may not import `labeler`, so it keeps its own two classes: a bad request (unknown format
or option, rows out of order) and an export whose output fails its own validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exports.validate import Report


class ExportError(ValueError):
    """A request the exporters cannot serve: unknown format or option, rows in the wrong order."""


class InvalidExport(ExportError):
    """The records an export produced break the target format's rules; no file was left behind."""

    def __init__(self, reports: list[Report]):
        self.reports = reports
        bad = [r for r in reports if r.errors]
        text = "\n".join(r.to_text() for r in bad)
        super().__init__(f"the export is invalid, no file was written:\n{text}")
