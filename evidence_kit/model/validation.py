"""pydantic's validation errors as the sentences evidence-kit shows: every problem at once, each naming its
field, with a did-you-mean hint for a mistyped key."""
from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Iterable, Mapping, NamedTuple, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from ..errors import CaseError

Model = TypeVar("Model")  # a pydantic model, or a dataclass pydantic validates (model.profile.Profile)


def _where(prefix: str, loc: Iterable[Any]) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int) and parts:
            parts[-1] = f"{parts[-1]}[{item + 1}]"  # tracking[1].url, as the buyer counts
        else:
            parts.append(str(item))
    return ".".join(parts)


# pydantic's error types, said as a buyer editing case.toml would understand them.
PLAIN = {"greater_than": "must be a positive whole number", "int_type": "must be a positive whole number",
         "int_parsing": "must be a positive whole number", "int_from_float": "must be a positive whole number",
         "string_type": "must be text", "bool_type": "must be true or false", "bool_parsing": "must be true or false",
         "list_type": "must be a list", "float_type": "must be a number", "float_parsing": "must be a number",
         "dict_type": "must be a table", "model_type": "must be a table"}
# The same as kinds (``Found.kind``): one per sentence of PLAIN.
PLAIN_KINDS = {"greater_than": "whole_number", "int_type": "whole_number", "int_parsing": "whole_number",
               "int_from_float": "whole_number", "string_type": "text", "bool_type": "true_false",
               "bool_parsing": "true_false", "list_type": "list", "float_type": "number", "float_parsing": "number",
               "dict_type": "table", "model_type": "table"}


# Custom error types a model raises (PydanticCustomError) with a message already in plain words:
# PLAIN_ERROR's message is used as it is (``ctx["field"]`` names the field when a model-level check raised it);
# PROBLEMS carries several problems found by one cross-field check (``ctx["problems"]``): (path, message) pairs
# or ``Found``s.
PLAIN_ERROR = "evidence_kit_plain"
PROBLEMS = "evidence_kit_problems"


def plain_error(message: str, field: str | None = None, kind: str = "", **params: Any) -> PydanticCustomError:
    """An error whose ``message`` reaches the buyer unchanged (braces in it are not a template). ``kind`` and
    ``params`` say the same for a program (the web app words it in the buyer's language)."""
    return PydanticCustomError(PLAIN_ERROR, "{message}", {"message": message, **({"field": field} if field else {}),
                                                          "kind": kind, "params": params})


class Found(NamedTuple):
    """One problem: where (a dotted path like ``order.shipped``), the English sentence, and the same as a
    ``kind`` with its ``params`` ("" when none was given: then only the sentence says it)."""

    where: str
    message: str
    kind: str = ""
    params: Mapping[str, Any] = {}


def problem_pairs(exc: ValidationError, model: type, prefix: str = "") -> list[tuple[str, str]]:
    """(where, plain sentence) for each problem in ``exc``; where is a dotted path like ``order.shipped``."""
    return [(found.where, found.message) for found in problems_found(exc, model, prefix)]


def problems_found(exc: ValidationError, model: type, prefix: str = "") -> list[Found]:
    """Each problem in ``exc`` as a ``Found``: the sentences of ``problem_pairs`` with their kinds."""
    problems: list[Found] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        where = _where(prefix, loc)
        kind, ctx = error["type"], error.get("ctx") or {}
        if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # a model's and a dataclass's word
            known = _known_keys(model, loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            problems.append(Found(where, "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else
                                                          f" (known: {', '.join(sorted(known))})"), "unknown_key",
                                  {"hint": hint[0] if hint else ""}))
        elif kind == "missing" and len(loc) == 1 and _is_table(model, str(loc[0])):
            # a whole table, named as case.toml writes it
            problems.append(Found(f"[{where}]", "missing section", "missing_section"))
        elif kind == "missing":
            problems.append(Found(where, "missing", "missing"))
        elif kind == PLAIN_ERROR:
            problems.append(Found(_where(prefix, (*loc, ctx["field"])) if "field" in ctx else where, ctx["message"],
                                  ctx.get("kind", ""), ctx.get("params") or {}))
        elif kind == PROBLEMS:
            problems += [Found(_where(prefix, tuple(found[0].split("."))), *found[1:]) for found in ctx["problems"]]
        elif kind in PLAIN:
            problems.append(Found(where, f"{PLAIN[kind]}, got {error.get('input')!r}", PLAIN_KINDS[kind],
                                  {"value": error.get("input")}))
        else:
            problems.append(Found(where, f"{error['msg'][0].lower() + error['msg'][1:]}, got {error.get('input')!r}"))
    return problems


def problems_of(exc: ValidationError, model: type, prefix: str = "") -> list[str]:
    """One plain sentence per problem in ``exc``."""
    return [f"{where}: {message}" if where else message for where, message in problem_pairs(exc, model, prefix)]


def _field_types(model: Any) -> dict[str, Any]:
    """Field name -> annotation of a pydantic model or a dataclass ({} for anything else)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {name: info.annotation for name, info in model.model_fields.items()}
    if dataclasses.is_dataclass(model):
        hints = typing.get_type_hints(model)
        return {f.name: hints[f.name] for f in dataclasses.fields(model)}
    return {}


def _is_record(annotation: Any) -> bool:
    return isinstance(annotation, type) and (issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation))


def _is_table(model: type, name: str) -> bool:
    return _is_record(_field_types(model).get(name))


def _known_keys(model: type, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model at ``loc``."""
    current: Any = model
    for item in loc:
        if isinstance(item, int):
            continue
        annotation = _field_types(current).get(item)
        args = getattr(annotation, "__args__", ()) or ()
        nested = [a for a in (annotation, *args) if _is_record(a)]
        if not nested:
            return []
        current = nested[0]
    return list(_field_types(current))


def valid_tables(model: type[BaseModel], data: Any, context: Any = None) -> dict[str, BaseModel]:
    """The tables (fields that are models) of ``data`` that validate on their own, by name; a table left out
    of ``data`` counts with its default. A model's own check across tables runs only once every field is valid:
    with these, a caller runs the checks whose tables are sound beside the problems found (every problem at
    once)."""
    found: dict[str, BaseModel] = {}
    if not isinstance(data, Mapping):
        return found
    for name, info in model.model_fields.items():
        table = info.annotation
        if not (isinstance(table, type) and issubclass(table, BaseModel)):
            continue
        if name not in data:
            if not info.is_required():
                found[name] = info.get_default(call_default_factory=True)
            continue
        try:
            found[name] = table.model_validate(data[name], context=context)
        except ValidationError:
            continue
    return found


def validated(model: type[Model], data: Any, source: str, prefix: str = "") -> Model:
    """``model`` from ``data``, or CaseError naming ``source`` with every problem found."""
    try:
        if issubclass(model, BaseModel):
            return model.model_validate(data)
        return TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        raise CaseError(source, problems_of(exc, model, prefix)) from None
