"""Bounds declared once: the `Annotated` types that project settings and model requests share.

A bound (temperature 0..2, top_p above 0 and at most 1, ...) is written here and nowhere else;
`ProjectSettings` and the request models (generation, augmentation, fine-tuning) use the same
type, so a value a setting refuses is refused in a request too. `Checked` models turn a value out
of bounds into one `Invalid` naming the field, its bounds and the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, get_args

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from labeler.errors import Invalid

Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
TopP = Annotated[float, Field(gt=0.0, le=1.0)]
MaxTokens = Annotated[int, Field(ge=1, le=65536)]
Concurrency = Annotated[int, Field(ge=1, le=256, description="requests in flight at once")]
TimeoutS = Annotated[float, Field(gt=0.0, le=3600.0, description="per request, before retries")]
CandidatesK = Annotated[int, Field(ge=1, le=9, description="candidates per prompt")]
Seed = Annotated[int, Field(ge=0)]
Limit = Annotated[int, Field(ge=1)]
Retries = Annotated[int, Field(ge=0)]
Epochs = Annotated[int, Field(ge=1, le=50)]
BatchSize = Annotated[int, Field(ge=1, le=256)]
LearningRateMultiplier = Annotated[float, Field(gt=0.0, le=10.0)]
Beta = Annotated[float, Field(gt=0.0, le=2.0)]


class Checked(BaseModel):
    """A frozen request model whose construction raises `Invalid` (a service error), never pydantic's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise Invalid(bound_message(type(self), e)) from None


def bound_message(model: type[BaseModel], error: ValidationError) -> str:
    """`` `k` must be within 1..9, got 12 `` for the first error (pydantic's words when it is not a bound)."""
    err = error.errors()[0]
    name = str(err["loc"][0]) if err["loc"] else "request"
    info = model.model_fields.get(name)
    value = err.get("input")
    if info is None or not isinstance(value, int | float) or isinstance(value, bool):
        return f"`{name}`: {err['msg']}"
    low = high = None
    low_open = high_open = False
    for m in constraints(info.metadata, info.annotation):
        if isinstance(m, Ge | Gt):
            low, low_open = (m.ge, False) if isinstance(m, Ge) else (m.gt, True)
        elif isinstance(m, Le | Lt):
            high, high_open = (m.le, False) if isinstance(m, Le) else (m.lt, True)
    if low is None and high is None:
        return f"`{name}`: {err['msg']}"
    got = f"got {value:g}"
    if low is not None and high is not None and not low_open and not high_open:
        return f"`{name}` must be within {low:g}..{high:g}, {got}"
    if low is not None and high is not None:
        return f"`{name}` must be {'above' if low_open else 'at least'} {low:g} and " \
               f"{'below' if high_open else 'at most'} {high:g}, {got}"
    if low is not None:
        return f"`{name}` must be {'above' if low_open else 'at least'} {low:g}, {got}"
    return f"`{name}` must be {'below' if high_open else 'at most'} {high:g}, {got}"


def constraints(metadata: list[Any], annotation: Any) -> Iterator[Any]:
    """A field's bound markers, also those inside `Bound | None` (pydantic keeps them in the annotation)."""
    for m in metadata:
        yield from m.metadata if isinstance(m, FieldInfo) else (m,)
    for arg in get_args(annotation):
        if isinstance(arg, FieldInfo):
            yield from arg.metadata
        elif get_args(arg):
            yield from constraints([], arg)
