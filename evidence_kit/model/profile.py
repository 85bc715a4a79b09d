"""Platform profiles: every limit a stage checks comes from here, never from code."""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Mapping

from pydantic import BaseModel, ConfigDict, Field

from ..errors import CaseError
from .layout import DEFAULT_PROFILE
from .validation import validated


Count = Annotated[int, Field(gt=0, strict=True)]  # a positive whole number; true/false or 2.5 are refused


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

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
        return self.model_dump()

    def with_overrides(self, overrides: Mapping[str, Any], source: str) -> "Profile":
        """A copy with ``overrides`` applied after validation (``source`` names the file in errors)."""
        return validated(Profile, {**self.to_dict(), **overrides}, source, "profile")


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
    return validated(Profile, data, source, "profile")
