"""Pure exporters: plain rows -> output records in a training format, one streaming writer, validators.

Design constraints (CONVENTIONS.md): this package imports neither `db` nor `labeler` nor SQLAlchemy
(a test reads the imports); format functions are pure and stream (`rows -> Iterator[dict]`); the
writer is the only place that touches files; every export validates its own output.
"""

from exports.aggregate import consensus, consensus_stream
from exports.errors import ExportError, InvalidExport
from exports.formats import FORMATS, Format, formats_table, get_format
from exports.pairing import kto_labels, pair_count, ranked_pairs
from exports.rows import DemonstrationRow, Message, RankedItem, RankingRow
from exports.sft import choose_legacy_markers, legacy_texts, render_legacy_prompt
from exports.validate import Problem, Report, Validator, validate_file, validate_records
from exports.writer import ExportResult, write_export, write_records

__all__ = [
    "FORMATS", "DemonstrationRow", "ExportError", "ExportResult", "Format", "InvalidExport", "Message",
    "Problem", "RankedItem", "RankingRow", "Report", "Validator", "choose_legacy_markers", "consensus",
    "consensus_stream", "formats_table", "get_format", "kto_labels", "legacy_texts", "pair_count", "ranked_pairs",
    "render_legacy_prompt", "validate_file", "validate_records", "write_export", "write_records",
]
