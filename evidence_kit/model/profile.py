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
from .tomlfile import load_toml


class _Bounded:
    """pydantic's rule for a profile number: a whole number above 0, strictly (true/false, 2.5 and "4" are
    refused), and within ``low..high``: a profile is data a user writes, and 99999999999 days once overflowed
    the date arithmetic of every deadline (issue 24). The bound is said in ``unit``s."""

    def __init__(self, low: int, high: int, unit: str, why_low: str = "") -> None:
        self.low, self.high, self.unit, self.why_low = low, high, unit, why_low

    def check(self, value: int) -> int:
        from .validation import plain_error
        if value < self.low:
            raise plain_error(f"must be at least {self.low:,} {self.unit}{self.why_low}, got {value}")
        if value > self.high:
            raise plain_error(f"must be at most {self.high:,} {self.unit}, got {value}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema
        return core_schema.no_info_after_validator_function(self.check, core_schema.int_schema(gt=0, strict=True))


# The bounds: wide enough for any platform's form, narrow enough that every date and size computed from them
# stays finite and meaningful.
MAX_DAYS = 3650  # ten years: no dispute window is longer
MIN_TEXT_CHARS = 250  # the shortest essentials (order number, problem, resolution) measured up to 226 characters
Days = Annotated[int, _Bounded(1, MAX_DAYS, "days")]
Files = Annotated[int, _Bounded(1, 100, "files")]
MAX_PHOTO_BYTES, MAX_VIDEO_BYTES = 100_000_000, 100_000_000_000  # 100 MB, 100 GB (--max-bytes too)
PhotoBytes = Annotated[int, _Bounded(1_000, MAX_PHOTO_BYTES, "bytes")]  # from 1 kB, as photos --max-bytes
VideoBytes = Annotated[int, _Bounded(10_000, MAX_VIDEO_BYTES, "bytes")]  # from 10 kB
TextChars = Annotated[int, _Bounded(MIN_TEXT_CHARS, 100_000, "characters",
                                    ": no dispute text fits in fewer (the order number, the problem and the "
                                    "resolution alone take up to 226)")]


@dataclass(frozen=True)
class Profile:
    __pydantic_config__ = {"extra": "forbid"}  # pydantic's ConfigDict is a TypedDict: this plain dict is one

    name: str
    description: str = ""
    max_photos: Files = 3
    max_photo_bytes: PhotoBytes = 2_000_000
    max_videos: Files = 1
    max_video_bytes: VideoBytes = 500_000_000
    max_text_chars: TextChars = 1000
    text_language: str = "en"
    dispute_open_after_shipment_days: Days = 10
    dispute_close_after_protection_days: Days = 15
    hidden_defect_days: Days = 15
    appeal_days: Days = 7
    non_delivery_full_refund_days: Days = 60
    # Non-delivery: open the dispute 3-5 days before protection ends and no later than 57-59 days after
    # shipment (seed 000); 57 is the safe end of that range.
    non_delivery_best_min_days_before_protection_end: Days = 3
    non_delivery_best_max_days_before_protection_end: Days = 5
    non_delivery_latest_days_after_shipment: Days = 57
    negotiation_days: Days = 15

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
            data = load_toml(candidate, source, "a profile file")
        except FileNotFoundError:
            raise CaseError(source, ["cannot read profile file: No such file or directory"]) from None
        return validated_profile(data, source)
    name = str(name_or_path)
    if name not in builtin_profiles():
        raise CaseError("profile", [f"unknown profile '{name}' (built in: {', '.join(builtin_profiles())}; "
                                    "or give the path of a .toml profile file)"])
    return Profile(**tomllib.loads(builtin_profile_text(name)))


def builtin_profile_text(name: str) -> str:
    return (resources.files("evidence_kit.model.profiles") / f"{name}.toml").read_text(encoding="utf-8")
