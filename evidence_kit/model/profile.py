"""Platform profiles: every limit a stage checks comes from here, never from code."""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from ..errors import CaseError

DEFAULT_PROFILE = "aliexpress"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    max_photos: int = 3
    max_photo_bytes: int = 2_000_000
    max_videos: int = 1
    max_video_bytes: int = 500_000_000
    max_text_chars: int = 1000
    text_language: str = "en"
    dispute_open_after_shipment_days: int = 10
    dispute_close_after_protection_days: int = 15
    hidden_defect_days: int = 15
    appeal_days: int = 7
    non_delivery_full_refund_days: int = 60
    # Non-delivery: open the dispute 3-5 days before protection ends and no later than 57-59 days after
    # shipment (seed 000); 57 is the safe end of that range.
    non_delivery_best_min_days_before_protection_end: int = 3
    non_delivery_best_max_days_before_protection_end: int = 5
    non_delivery_latest_days_after_shipment: int = 57
    negotiation_days: int = 15

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any], source: str) -> "Profile":
        """A copy with ``overrides`` applied after validation (``source`` names the file in errors)."""
        values = _validated(overrides, source, partial=True)
        return dataclasses.replace(self, **values)


_FIELD_TYPES = {f.name: f.type for f in fields(Profile)}


def _validated(data: Mapping[str, Any], source: str, *, partial: bool) -> dict[str, Any]:
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELD_TYPES:
            problems.append(f"profile: unknown key '{key}' (known: {', '.join(sorted(_FIELD_TYPES))})")
            continue
        if _FIELD_TYPES[key] == "int":
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                problems.append(f"profile.{key}: must be a positive whole number, got {value!r}")
                continue
        elif not isinstance(value, str):
            problems.append(f"profile.{key}: must be text, got {value!r}")
            continue
        values[key] = value
    if not partial and "name" not in values:
        problems.append("profile: missing 'name'")
    if problems:
        raise CaseError(source, problems)
    return values


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
        source = f"built-in profile {name}"
        text = (resources.files("evidence_kit.model.profiles") / f"{name}.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(source, [f"not valid TOML: {exc}"]) from None
    return Profile(**_validated(data, source, partial=False))
