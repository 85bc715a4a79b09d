"""pydantic's validation errors as the sentences evidence-kit shows: every problem at once, each naming its
field, with a did-you-mean hint for a mistyped key."""
from __future__ import annotations

import difflib
from typing import Any, Iterable, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import CaseError

Model = TypeVar("Model", bound=BaseModel)


def _where(prefix: str, loc: Iterable[Any]) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        parts[-1:] = [f"{parts[-1]}[{item + 1}]"] if isinstance(item, int) and parts else parts
        if not isinstance(item, int):
            parts.append(str(item))
    return ".".join(parts)


# pydantic's error types, said as a buyer editing case.toml would understand them.
PLAIN = {"greater_than": "must be a positive whole number", "int_type": "must be a positive whole number",
         "int_parsing": "must be a positive whole number", "int_from_float": "must be a positive whole number",
         "string_type": "must be text", "bool_type": "must be true or false", "bool_parsing": "must be true or false",
         "list_type": "must be a list", "float_type": "must be a number", "float_parsing": "must be a number",
         "dict_type": "must be a table", "model_type": "must be a table"}


def problems_of(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[str]:
    """One plain sentence per problem in ``exc``."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        where = _where(prefix, loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            known = _known_keys(model, loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            problems.append(f"{where}: unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else
                                                       f" (known: {', '.join(sorted(known))})"))
        elif kind == "missing":
            problems.append(f"{where}: missing")
        elif kind in PLAIN:
            problems.append(f"{where}: {PLAIN[kind]}, got {error.get('input')!r}")
        else:
            problems.append(f"{where}: {error['msg'][0].lower() + error['msg'][1:]}, got {error.get('input')!r}")
    return problems


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model at ``loc``."""
    current: Any = model
    for item in loc:
        if isinstance(item, int):
            continue
        field = getattr(current, "model_fields", {}).get(item)
        annotation = field.annotation if field else None
        args = getattr(annotation, "__args__", ()) or ()
        nested = [a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return []
        current = nested[0]
    return list(getattr(current, "model_fields", {}))


def validated(model: type[Model], data: Any, source: str, prefix: str = "") -> Model:
    """``model`` from ``data``, or CaseError naming ``source`` with every problem found."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CaseError(source, problems_of(exc, model, prefix)) from None
