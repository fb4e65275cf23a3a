"""The dataset card (`README.md`) written beside an export, in the Hugging Face style.

The YAML header declares one config whose data files are the splits — the Parquet files when the
export wrote them (one schema across all splits, so they always load together), else the JSONL
files — so the folder loads with `datasets.load_dataset(DIR)`. The card holds no timestamp: the
same export gives the same bytes (the manifest records the time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from exports.rows import SPLIT_BY


def dataset_card(
    *,
    format: str,
    source: str,
    description: str,
    example: str,
    files: Mapping[str, Mapping[str, str]],
    counts: Mapping[str, int],
    filters: Mapping[str, Any],
    options: Mapping[str, Any],
    labeler_version: str,
    split_keys: Mapping[tuple[str, str], int] | None = None,
) -> str:
    """Markdown with a YAML header; `files` maps split -> {"jsonl": name, "parquet"?: name}.

    `split_keys` counts the rows by (prompt source, "user" or "root"): which key decided the splits.
    """
    head = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split, names in files.items():
        head += [f"  - split: {split}", f"    path: {names.get('parquet', names['jsonl'])}"]
    head += ["tags:", "- labeler", f"- {format}", "---", ""]
    table = ["| split | examples | files |", "| --- | ---: | --- |"]
    table += [f"| {split} | {counts[split]:,} | {', '.join(f'`{n}`' for n in names.values())} |"
              for split, names in files.items()]
    data_files = ", ".join(f'"{split}": "{names["jsonl"]}"' for split, names in files.items())
    body = [
        f"# labeler export: `{format}`",
        "",
        f"{description[:1].upper()}{description[1:]}. Made by labeler {labeler_version} from {source}.",
        "",
        *table,
        "",
        "## One line",
        "",
        "```json",
        example,
        "```",
        "",
        "## How it was made",
        "",
        f"- filters: `{orjson.dumps(dict(filters), option=orjson.OPT_SORT_KEYS).decode()}`",
        f"- options: `{orjson.dumps(dict(options), option=orjson.OPT_SORT_KEYS).decode()}`",
        "- `manifest.json` lists every file with its sha256, and the validation report of each split.",
        "",
        *_splits_section(source, split_keys or {}),
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("json", data_files={{{data_files}}})',
        "```",
        "",
    ]
    if format == "rankings":
        body += [
            "`datasets` takes column types from the first rows of the first split: a column that is null",
            "(or an empty list) there, as ranking metadata can be, needs `features=` with the JSONL files;",
            "the Parquet files (`parquet=True`) share one schema across splits and need nothing.",
            "",
        ]
    return "\n".join(head + body)


def _splits_section(rows: str, split_keys: Mapping[tuple[str, str], int]) -> list[str]:
    """Which key decided each source's split: every prompt sharing a key is in one split."""
    if not split_keys:
        return []
    lines = [
        "## Splits",
        "",
        "Each prompt's split was decided by a key, so prompts sharing the key are never in two splits:",
        "its originating user, or, for a prompt without one, its conversation's root (the first user turn,",
        "normalized as duplicates are found), so every continuation of one dialogue is in the same split.",
        "",
        f"| source | split by | {rows} |",
        "| --- | --- | ---: |",
    ]
    for (src, by), n in sorted(split_keys.items()):
        lines.append(f"| `{src or '(none)'}` | {SPLIT_BY.get(by, by)} | {n:,} |")
    return [*lines, ""]
