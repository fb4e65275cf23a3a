"""The `model-comparison` export: one JSON report (win-rate matrix, counts, ratings with intervals).

Design constraints: the report is an aggregate, not one record per ranking, so the service computes
it (`labeler.services.compare`, from `analytics.comparison`) and hands it over as a single row; the
format writes it as the one line of `comparison.jsonl` (a JSONL file of one line is also a JSON
document), through the same writer as every format: atomic, validated, with manifest and card.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

SPLIT = "comparison"  # the file: comparison.jsonl


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """A model comparison report, computed by the service with the export's filters and options."""

    report: Mapping[str, Any]
    split: str = SPLIT


def model_comparison(row: ComparisonRow, models: Any = None, reward_model: Any = None) -> Iterator[dict[str, Any]]:
    """The report as it is (`models` and `reward_model` were applied when the service computed it)."""
    yield dict(row.report)
