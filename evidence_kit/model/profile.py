"""Platform profiles: every limit a stage checks comes from here, never from code.

A profile is a frozen dataclass, not a pydantic model: every run reads one (`evidence-kit photos` on one photo
too), and importing pydantic and building a model cost 0.15 s of such a run. A profile a user gives (a .toml
file, case.toml's [profile] overrides) and one read back from a manifest are validated by pydantic, imported
then; the built-in profiles ship with the package and the tests validate each of them the same way.
"""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Mapping

from ..errors import CaseError
from .layout import DEFAULT_PROFILE


class _PositiveCount:
    """pydantic's rule for a count: a whole number above 0, strictly (true/false, 2.5 and "4" are refused)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema
        return core_schema.int_schema(gt=0, strict=True)


Count = Annotated[int, _PositiveCount()]


@dataclass(frozen=True)
class Profile:
    __pydantic_config__ = {"extra": "forbid"}  # pydantic's ConfigDict is a TypedDict: this plain dict is one

    name: str
    description: str = ""
    max_photos: Count = 3
    max_photo_bytes: Count = 2_000_000
    max_videos: Count = 1
    max_video_bytes: Count = 500_000_000
    max_text_chars: Count = 1000
    text_language: str = "en"
    dispute_open_after_shipment_days: Count = 10
    dispute_close_after_protection_days: Count = 15
    hidden_defect_days: Count = 15
    appeal_days: Count = 7
    non_delivery_full_refund_days: Count = 60
    # Non-delivery: open the dispute 3-5 days before protection ends and no later than 57-59 days after
    # shipment (seed 000); 57 is the safe end of that range.
    non_delivery_best_min_days_before_protection_end: Count = 3
    non_delivery_best_max_days_before_protection_end: Count = 5
    non_delivery_latest_days_after_shipment: Count = 57
    negotiation_days: Count = 15

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any], source: str) -> Profile:
        """A copy with ``overrides`` applied after validation (``source`` names the file in errors)."""
        return validated_profile({**self.to_dict(), **overrides}, source)


def validated_profile(data: Any, source: str) -> Profile:
    """``data`` as a Profile, or CaseError naming ``source`` with every problem found (pydantic checks it)."""
    from .validation import validated
    return validated(Profile, data, source, "profile")


def builtin_profiles() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in resources.files("evidence_kit.model.profiles").iterdir()
                  if p.name.endswith(".toml"))


def load_profile(name_or_path: str | Path = DEFAULT_PROFILE) -> Profile:
    """Load a built-in profile by name (``aliexpress``) or a profile TOML file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        source = str(candidate)
        try:
            text = candidate.read_text(encoding="utf-8")
        except OSError as exc:
            raise CaseError(source, [f"cannot read profile file: {exc.strerror or exc}"]) from None
    else:
        name = str(name_or_path)
        if name not in builtin_profiles():
            raise CaseError("profile", [f"unknown profile '{name}' (built in: {', '.join(builtin_profiles())}; "
                                        "or give the path of a .toml profile file)"])
        return Profile(**tomllib.loads(builtin_profile_text(name)))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(source, [f"not valid TOML: {exc}"]) from None
    return validated_profile(data, source)


def builtin_profile_text(name: str) -> str:
    return (resources.files("evidence_kit.model.profiles") / f"{name}.toml").read_text(encoding="utf-8")
