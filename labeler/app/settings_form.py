"""The project settings form, built from `ProjectSettings` itself.

Design constraints:
- Settings grow as features land (model, quality, ...), so the form never lists every field by hand:
  the labeling and import fields get chosen labels and sections; every other field gets a widget
  chosen from its type (bool, number, text, list of names, choice), its bounds and help from the
  model's metadata; a field of any other type is edited in an "Advanced (JSON)" box. A new field
  therefore appears in the form without a change here.
- The form only collects values; the service validates them (one rule, one place). Input the form
  cannot even read (a malformed split, bad JSON) is reported naming the field, like the service does.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import streamlit as st
from annotated_types import Ge, Gt, Le, Lt

from labeler.hygiene import split_parts
from labeler.services.bounds import constraints
from labeler.services.projects import ProjectSettings

SECTIONS: dict[str, tuple[str, ...]] = {
    "Labeling": ("task_kinds", "k_min", "k_max", "labels_per_item", "lease_minutes", "likert_points", "flags",
                 "ties_allowed"),
    "Import hygiene (defaults for every import)": ("dedup_prefix_chars", "max_prompts_per_user", "split",
                                                   "scrub_pii"),
}
LABELS = {
    "task_kinds": "Task kinds",
    "k_min": "Fewest candidates per ranking (K min)",
    "k_max": "Most candidates per ranking (K max)",
    "labels_per_item": "Labelers per prompt and task kind",
    "lease_minutes": "Lease minutes (how long a task stays reserved)",
    "likert_points": "Likert scale points (1..N)",
    "flags": "Flags (comma-separated)",
    "ties_allowed": "Ties allowed (equal ranks)",
    "dedup_prefix_chars": "Duplicate when this many leading characters match (0 = off)",
    "max_prompts_per_user": "Most prompts per originating user",
    "split": "Split train/valid/test",
    "scrub_pii": "Scrub PII (e-mails, phones, cards, IPs) on import",
}
ADVANCED = "advanced"  # the widget key suffix of the JSON box


@dataclass(frozen=True)
class FieldKind:
    """How one settings field is edited: `widget` is checkbox, int, float, text, names, choices, choice,
    split or json; `optional` when None is allowed (an empty box means None)."""

    widget: str
    optional: bool = False
    options: tuple[Any, ...] = ()


def _strip_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            inner = get_args(args[0])[0] if get_origin(args[0]) is Annotated else args[0]  # a shared bound type
            return inner, len(args) < len(get_args(annotation))
    return annotation, False


def field_kind(annotation: Any) -> FieldKind:
    """The widget for a field's type annotation (`json` when no simple widget fits)."""
    inner, optional = _strip_none(annotation)
    origin, args = get_origin(inner), get_args(inner)
    if inner is bool:
        return FieldKind("checkbox", optional)
    if inner is int:
        return FieldKind("int", optional)
    if inner is float:
        return FieldKind("float", optional)
    if inner is str:
        return FieldKind("text", optional)
    if origin is Literal:
        return FieldKind("choice", optional, args)
    if origin is list and len(args) == 1 and get_origin(args[0]) is Literal:
        return FieldKind("choices", optional, get_args(args[0]))
    if origin is list and args == (str,):
        return FieldKind("names", optional)
    if origin is tuple and args and all(a is int for a in args) and not optional:
        return FieldKind("split", optional, (len(args),))
    return FieldKind("json", optional)


def _bounds(name: str, number: type) -> dict[str, Any]:
    """min_value/max_value for a number_input from the field's constraints (strict ones only for integers)."""
    out: dict[str, Any] = {}
    info = ProjectSettings.model_fields[name]
    for meta in constraints(info.metadata, info.annotation):
        if isinstance(meta, Ge):
            out["min_value"] = number(meta.ge)
        elif isinstance(meta, Le):
            out["max_value"] = number(meta.le)
        elif isinstance(meta, Gt) and number is int:
            out["min_value"] = int(meta.gt) + 1
        elif isinstance(meta, Lt) and number is int:
            out["max_value"] = int(meta.lt) - 1
    return out


def _label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


class FormProblem(ValueError):
    """A value the form could not read (named like the service's messages)."""


def _widget(name: str, value: Any, key: str) -> Any:
    """Show the widget for one field and return what it holds, in the model's terms."""
    kind = field_kind(ProjectSettings.model_fields[name].annotation)
    help_text = ProjectSettings.model_fields[name].description
    label = _label(name)
    if kind.widget == "checkbox":
        return st.checkbox(label, value=bool(value), key=key, help=help_text)
    if kind.widget in ("int", "float"):
        number = int if kind.widget == "int" else float
        return st.number_input(label, value=None if value is None else number(value), key=key, help=help_text,
                               step=number(1) if number is int else 0.1, **_bounds(name, number),
                               placeholder="(not set)" if kind.optional else None)
    if kind.widget == "text":
        text = st.text_input(label, value=value or "", key=key, help=help_text,
                             placeholder="(not set)" if kind.optional else "")
        return (text.strip() or None) if kind.optional else text
    if kind.widget == "choice":
        return st.selectbox(label, kind.options, index=kind.options.index(value) if value in kind.options else None,
                            key=key, help=help_text)
    if kind.widget == "choices":
        return st.multiselect(label, kind.options, default=[v for v in value or [] if v in kind.options], key=key,
                              help=help_text)
    if kind.widget == "names":
        text = st.text_input(label, value=", ".join(value or []), key=key, help=help_text)
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind.widget == "split":
        text = st.text_input(label, value="/".join(map(str, value)), key=key, help=help_text or "e.g. 80/10/10")
        parts = split_parts(text, kind.options[0])  # the import's reading of a split
        if parts is None:
            raise FormProblem(f"`{name}`: expected {kind.options[0]} whole numbers separated by `/`, got `{text}`")
        return parts
    raise AssertionError(kind)  # json fields are collected by the advanced box


def settings_form(ns: str, current: ProjectSettings) -> tuple[dict[str, Any], list[str]]:
    """Every settings widget, keyed under `ns`; returns (values read, problems the form found)."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    shown = {name for names in SECTIONS.values() for name in names}
    others = [n for n in ProjectSettings.model_fields if n not in shown]
    simple = [n for n in others if field_kind(ProjectSettings.model_fields[n].annotation).widget != "json"]
    complex_ = [n for n in others if n not in simple]

    def read(names: tuple[str, ...] | list[str]) -> None:
        for name in names:
            if name not in ProjectSettings.model_fields:
                continue  # a field this form knows was renamed or removed: skip it, never break
            try:
                values[name] = _widget(name, getattr(current, name), f"{ns}.{name}")
            except FormProblem as e:
                problems.append(str(e))

    for title, names in SECTIONS.items():
        st.markdown(f"**{title}**")
        left, right = st.columns(2)
        half = (len(names) + 1) // 2
        with left:
            read(names[:half])
        with right:
            read(names[half:])
    if simple:
        with st.expander("More settings (model, quality, ...)"):
            read(simple)
    if complex_:
        dumped = current.model_dump(mode="json")
        text = st.text_area("Advanced (JSON)", value=json.dumps({n: dumped[n] for n in complex_}, indent=2),
                            key=f"{ns}.{ADVANCED}", help="settings without a form field of their own")
        try:
            extra = json.loads(text or "{}")
            if not isinstance(extra, dict):
                raise ValueError("expected a JSON object")
            values.update(extra)
        except ValueError as e:
            problems.append(f"`{ADVANCED}`: not a JSON object of settings ({e})")
    return values, problems


def changed_settings(current: ProjectSettings, values: dict[str, Any]) -> dict[str, Any]:
    """Only the values that differ from the stored settings (so the audit log records real changes)."""
    stored = current.model_dump(mode="json")
    return {k: v for k, v in values.items() if k not in stored or _json(stored[k]) != _json(v)}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def problems_message(problems: list[str]) -> str:
    """The form's own problems, worded like the service's validation error."""
    return "invalid project settings: " + "; ".join(problems)
