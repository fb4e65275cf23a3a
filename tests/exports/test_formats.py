"""Format rules beyond the golden files: the registry, options, multi-turn, markers, KTO ties."""

from __future__ import annotations

import pytest

from exports import FORMATS, DemonstrationRow, ExportError, choose_legacy_markers, get_format, legacy_texts
from exports.checks import CHECKS
from exports.sft import SEPARATORS, STOPS


def test_the_registry_names_every_format_with_its_source_options_and_checks():
    assert list(FORMATS) == ["sft-messages", "sft-prompt-completion", "pairs", "rankings", "kto", "openai-chat",
                             "openai-preference", "openai-legacy", "prompts", "openai-rft", "classification",
                             "classification-openai", "model-comparison"]
    sources = {name: f.source for name, f in FORMATS.items()}
    assert {n for n, s in sources.items() if s == "rankings"} == {"pairs", "rankings", "kto", "openai-preference"}
    assert FORMATS["openai-chat"].options == ("weight_non_human",)
    assert FORMATS["openai-legacy"].options == ("separator", "stop")
    assert FORMATS["kto"].options == ("exclude_flags", "aggregate", "none_acceptable_undesirable")
    assert all(f.validator is CHECKS[n] and f.name == n for n, f in FORMATS.items())
    assert get_format("pairs") is FORMATS["pairs"]


def test_split_records_tag_each_record_with_its_rows_split(ranking_rows):
    tagged = list(FORMATS["pairs"].split_records(ranking_rows))
    assert [s for s, _ in tagged] == ["train"] * 5 + ["valid"] * 3 + ["test"]


def test_multi_turn_demonstrations_give_one_prompt_completion_per_written_assistant_turn():
    row = DemonstrationRow(
        demonstration_id=1, prompt_id=1, split="train", messages=[{"role": "user", "content": "a"}],
        turns=[{"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
               {"role": "assistant", "content": "d"}])
    records = list(FORMATS["sft-prompt-completion"].fn([row]))
    assert records == [
        {"prompt": [{"role": "user", "content": "a"}], "completion": [{"role": "assistant", "content": "b"}]},
        {"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"}], "completion": [{"role": "assistant", "content": "d"}]},
    ]
    assert list(FORMATS["sft-messages"].fn([row])) == [{"messages": [*row.messages, *row.turns]}]
    legacy = list(FORMATS["openai-legacy"].fn([row]))
    assert legacy[1] == {"prompt": "User: a\n\nAssistant: b\n\nUser: c\n\n###\n\n", "completion": " d END"}


def test_skipped_demonstrations_export_nothing(demo_rows):
    skipped = [r for r in demo_rows if r.status == "skipped"]
    assert all(list(f.fn(skipped)) == [] for f in FORMATS.values() if f.source == "demonstrations")


def test_legacy_markers_avoid_the_data_and_its_boundaries():
    assert choose_legacy_markers(["plain text"]) == (SEPARATORS[0], STOPS[0])
    # "...###\n" + "\n\n###\n\n" shows the separator six characters early, though the text lacks it
    assert choose_legacy_markers(["a heading\n\n###\n", "THE END"]) == (SEPARATORS[1], STOPS[1])
    assert choose_legacy_markers(["a text that ends with a newline\n"]) == (SEPARATORS[0], STOPS[0])
    assert choose_legacy_markers(iter(["x"])) == (SEPARATORS[0], STOPS[0])  # one pass over a stream
    with pytest.raises(ExportError, match="every candidate separator occurs in the data"):
        choose_legacy_markers(["".join(SEPARATORS)])


def test_legacy_texts_are_what_the_format_writes(demo_rows):
    texts = list(legacy_texts(demo_rows))
    records = list(FORMATS["openai-legacy"].fn(demo_rows))
    assert texts == [t for r in records for t in (r["prompt"][: -len(SEPARATORS[0])], r["completion"][1:-4])]


def test_exclude_flags_drop_candidates_from_rankings_and_kto(ranking_rows):
    [first] = list(FORMATS["rankings"].fn(ranking_rows[:1], exclude_flags=["rude"]))
    assert [c["candidate_id"] for c in first["candidates"]] == [11, 12, 13]
    kto = list(FORMATS["kto"].fn(ranking_rows[:1], exclude_flags={"rude"}))
    # 11 is best; 12 and 13 tie for last once 14 is gone
    assert [(r["completion"][0]["content"], r["label"]) for r in kto] == [
        ("Apple.", True), ("Banana.", False), ("A banana!", False)]


def test_options_are_checked(ranking_rows, demo_rows):
    with pytest.raises(ExportError, match="format `sft-messages`: unknown option `weight_non_human` \\(known: none\\)"):
        list(FORMATS["sft-messages"].fn(demo_rows, weight_non_human=True))
    with pytest.raises(ExportError, match="unknown format `dpo`"):
        get_format("dpo")


def test_each_formats_documented_example_is_a_valid_line():
    import orjson

    from exports import validate_records
    from exports.formats import formats_table

    for name, f in FORMATS.items():
        report = validate_records([orjson.loads(f.example)], name, min_examples=0)
        assert report.ok, report.to_text()
        assert [w.message for w in report.warnings] == (
            ["no undesirable example: KTO needs both kinds"] if name == "kto" else [])
        assert f"| `{name}` | {f.source} |" in formats_table()
