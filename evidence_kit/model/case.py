"""The case folder: ``case.toml`` (order facts) plus media found by subfolder or by type.

Each table of case.toml is a pydantic model (``Order``, ``Dispute``, ``Facts``, ``TrackingRef``, ``VideoSpec``,
``PhotoHint``) and ``CaseFile`` is the whole file, so validating it reports every problem at once, in plain
words (``model.validation``). ``Case`` is the validated file put together with what the file does not hold:
the folder, the media found in it and the profile. ``validate_case_data`` is the one way in for a parsed
case.toml or a web form; ``load_case`` reads a folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Callable, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo
from pydantic import field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..errors import CaseError, InputError
from ..model.profile import DEFAULT_PROFILE, Profile, load_profile
from ..model.reasons import REASON_RULES, REASONS, RESOLUTIONS
from ..model.validation import PROBLEMS, Found, plain_error, problems_found, valid_tables
from ..names import shown
from .tomlfile import load_toml
from .layout import (CASE_FILE, PACKAGE_DIR, PHOTO_SUFFIXES, RECEIPT_SUFFIXES, SUBFOLDERS, TRACKING_SUFFIXES,  # noqa: F401
                     VIDEO_SUFFIXES)


# --- field types: each refuses what it cannot use with a sentence a buyer editing case.toml understands ---

def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value  # anything but text is refused as "must be text"


def _order_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # an order number written without quotes
    if isinstance(value, str) and not value.strip():
        raise plain_error("must not be empty", kind="empty")
    return _stripped(value)


# Dates a deadline can count from: years ahead of 9999 overflow the date arithmetic, and an order dated
# outside these years is a typo.
FIRST_YEAR, LAST_YEAR = 1990, 2200


def _day(value: Any) -> date:
    day = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            pass
    if day is None:
        raise plain_error(f"{value!r} is not a date (write it as 2026-11-25)", kind="not_a_date", value=value)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise plain_error(f"{day.isoformat()} is not a date of an order (years {FIRST_YEAR} to {LAST_YEAR}): "
                          "check the year", kind="year_range", day=day, first=FIRST_YEAR, last=LAST_YEAR)
    return day


def _amount(value: Any) -> Decimal:
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise plain_error(f"{value!r} is not a number", kind="not_a_number", value=value) from None
    if not number.is_finite() or number < 0:
        raise plain_error(f"must not be negative, got {value}", kind="negative", value=value)
    return number


def _seconds(value: Any) -> float:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise plain_error(str(exc)) from None


def _one_of(choices: Mapping[str, str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise plain_error(f"unknown value {value!r} (valid: {', '.join(choices)})", kind="not_a_choice",
                              value=value, choices=tuple(choices))
        return value
    return check


def _offer(value: Any) -> Decimal | str:
    if isinstance(value, str) and value.strip().lower() == "replacement":
        return "replacement"
    if isinstance(value, str) and not re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        raise plain_error(f"{value!r} is neither an amount nor \"replacement\"", kind="not_an_offer", value=value)
    return _amount(value)


def _case_path(value: Any, info: ValidationInfo) -> Path | None:
    """A file named relative to the case folder; it must exist there when the folder is known."""
    if not isinstance(value, str):
        raise plain_error(f"must be a file name in quotes, got {value!r}", kind="file_name", value=value)
    if not value.strip():
        return None
    root = (info.context or {}).get("root")
    path = Path(root) / value.strip() if root else Path(value.strip())
    if root and not path.is_file():
        raise plain_error(f"{value.strip()!r} does not exist in the case folder", kind="no_such_file",
                          name=value.strip())
    return path


Text = Annotated[str, BeforeValidator(_stripped), Field(strict=True)]
Currency = Annotated[str, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v), Field(strict=True)]
OrderNumber = Annotated[str, BeforeValidator(_order_number), Field(strict=True)]
Day = Annotated[date, BeforeValidator(_day)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
Seconds = Annotated[float, BeforeValidator(_seconds)]
Count = Annotated[int, Field(gt=0, strict=True)]  # a whole number from 1; true/false or 2.5 are refused
Reason = Annotated[str, BeforeValidator(_one_of(REASONS))]
Resolution = Annotated[str, BeforeValidator(_one_of(RESOLUTIONS))]
# Where the seller promised to pay the customs fees (the texts say it with templates/complaint/facts.toml).
CUSTOMS_PROMISES = {"chat": "in a message to the buyer", "listing": "in the item description"}
CustomsPromise = Annotated[str, BeforeValidator(_one_of(CUSTOMS_PROMISES))]
Offer = Annotated[Decimal | str, BeforeValidator(_offer)]
# The platform's decision on an escalated dispute (an appeal argues against the first two).
DECISIONS = {"seller": "closed in the seller's favour, with no refund", "partial_refund": "a partial refund",
             "full_refund": "a full refund"}
Decision = Annotated[str, BeforeValidator(_one_of(DECISIONS))]


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the tables of case.toml ------------------------------------------------------------------------------

class Order(_Table):
    number: OrderNumber
    store: Text = ""
    item: Text = ""
    price: Amount | None = None
    currency: Currency = ""
    ordered: Day | None = None
    shipped: Day | None = None
    delivered: Day | None = None
    protection_ends: Day | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> "Order":
        if self.ordered and self.shipped and self.shipped < self.ordered:
            raise plain_error("is before order.ordered", field="shipped", kind="before", other="order.ordered")
        if self.shipped and self.delivered and self.delivered < self.shipped:
            raise plain_error("is before order.shipped", field="delivered", kind="before", other="order.shipped")
        return self


class Dispute(_Table):
    reason: Reason
    resolution: Resolution
    amount: Amount | None = None
    opened: Day | None = None
    escalated: Day | None = None  # the day the dispute went to the platform (by the buyer, or after negotiation)
    escalated_closed: Day | None = None  # the day the platform decided the escalated dispute
    decision: Decision | None = None  # what the platform decided then
    decision_amount: Amount | None = None  # the partial refund it granted
    seller_contacted: Day | None = None
    seller_replied: Day | None = None  # the day the seller's reply (seller_reply) came
    seller_reply: Text = ""
    notes: Text = ""
    notes_en: Text = ""  # the buyer's (or a translator's) English version of notes in another language

    @model_validator(mode="before")
    @classmethod
    def _default_resolution(cls, data: Any) -> Any:
        """Refund only when the parcel never came (002); otherwise the buyer must choose."""
        if isinstance(data, dict) and "resolution" not in data and isinstance(data.get("reason"), str):
            rule = REASON_RULES.get(data["reason"])
            if rule and rule.default_resolution:
                return {**data, "resolution": rule.default_resolution}
        return data


_NOT_ARRIVED = frozenset(r.key for r in REASON_RULES.values() if not r.parcel_arrived)
_DESCRIBED = frozenset({"not_as_described", "wrong_item", "wrong_colour", "counterfeit"})


class Facts(_Table):
    """What happened, as facts the texts turn into English sentences whatever language the notes are in.

    All optional; each is for the reasons in ``FACT_REASONS`` (RULES.md: what each reason must show).
    """

    tracking_last_update: Day | None = None  # the last day the tracking changed (filled from tracking events)
    tracking_last_status: Text = ""  # what it said then, in English ("Departed from sorting centre")
    seller_asked_to_wait_until: Day | None = None
    times_asked_to_wait: Count | None = None
    seller_extended_protection_to: Day | None = None
    seller_asked_to_confirm_receipt: StrictBool = False
    seller_asked_to_cancel_dispute: StrictBool = False
    seller_offered: Offer | None = None  # a partial refund (an amount) or "replacement"
    defect: Text = ""  # what is wrong, short ("a long crack in the body")
    works: StrictBool | None = None  # false: it does not turn on or work at all
    missing: Text = ""  # the parts or items missing from the parcel
    ordered_size: Text = ""
    received_size: Text = ""
    listing_said: Text = ""  # what the listing promised (not as described, wrong item or colour, counterfeit)
    received: Text = ""  # what came instead
    delivered_to: Text = ""  # the city (or country) where the tracking says it was delivered
    distance_km: Count | None = None  # from that city to the buyer's
    customs_fee: Amount | None = None
    customs_promised_in: CustomsPromise | None = None  # where the seller promised to pay it: chat or listing
    expiry_date: Day | None = None  # the best-before or use-by date printed on an expired item
    promised_delivery_by: Day | None = None  # the latest delivery day the listing or checkout promised

    def given(self) -> list[str]:
        """The facts set in case.toml (or filled in), in field order."""
        return [name for name, spec in type(self).model_fields.items() if getattr(self, name) != spec.default]


# Fact -> the reasons it is for (None: any reason).
FACT_REASONS: dict[str, frozenset[str] | None] = {
    "tracking_last_update": _NOT_ARRIVED, "tracking_last_status": _NOT_ARRIVED,
    "seller_asked_to_wait_until": _NOT_ARRIVED, "times_asked_to_wait": _NOT_ARRIVED,
    "seller_extended_protection_to": _NOT_ARRIVED,
    "seller_asked_to_confirm_receipt": None, "seller_asked_to_cancel_dispute": None, "seller_offered": None,
    "defect": frozenset({"damaged", "defective"}), "works": frozenset({"damaged", "defective"}),
    "missing": frozenset({"incomplete"}),
    "ordered_size": frozenset({"wrong_size"}), "received_size": frozenset({"wrong_size"}),
    "listing_said": _DESCRIBED, "received": _DESCRIBED,
    "delivered_to": frozenset({"delivered_elsewhere"}), "distance_km": frozenset({"delivered_elsewhere"}),
    "customs_fee": frozenset({"customs"}), "customs_promised_in": frozenset({"customs"}),
    "expiry_date": frozenset({"expired"}), "promised_delivery_by": frozenset({"late_delivery"}),
}


class TrackingRef(_Table):
    number: Text = ""
    carrier: Text = ""
    url: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _number_alone(cls, data: Any) -> Any:
        return {"number": data} if isinstance(data, str) else data  # tracking = ["LP..."]

    @model_validator(mode="after")
    def _usable(self) -> "TrackingRef":
        if not self.number and not self.url:
            raise plain_error("needs a number or a url", kind="number_or_url")
        if self.url and not re.match(r"^https?://", self.url):
            raise plain_error(f"only http:// and https:// addresses are accepted, got {self.url!r}", field="url",
                              kind="web_address", value=self.url)
        return self


class VideoSpec(_Table):
    file: Path | None = None  # resolved against the case folder
    start: Seconds | None = None  # seconds
    end: Seconds | None = None
    stills: tuple[Seconds, ...] = ()
    skip: StrictBool = False  # true: upload no video (the buyer's choice in the web app)

    _file = field_validator("file", mode="before")(_case_path)

    @field_validator("stills", mode="before")
    @classmethod
    def _one_still(cls, value: Any) -> Any:
        return value if isinstance(value, (list, tuple)) else [value]

    @model_validator(mode="after")
    def _ordered(self) -> "VideoSpec":
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise plain_error("must be after video.start", field="end", kind="after", other="video.start")
        return self


class PhotoHint(_Table):
    file: Path  # resolved against the case folder
    rank: Count | None = None
    caption: Text = ""
    skip: StrictBool = False  # true: never upload this photo (the selection runs over the others)

    _file = field_validator("file", mode="before")(_case_path)


def _profile_value(value: Any) -> Any:
    if not isinstance(value, (str, dict)):
        raise plain_error("must be a profile name, a file path or a [profile] table")
    return value


# Dates of what has already happened; protection_ends and the seller's promises may lie ahead.
PAST_DATES = {"order": ("ordered", "shipped", "delivered"),
              "dispute": ("opened", "escalated", "escalated_closed", "seller_contacted", "seller_replied"), "facts": ("tracking_last_update",)}
TIME_ZONE_SLACK = timedelta(days=1)  # a buyer east of this machine may already be in tomorrow


class CaseFile(_Table):
    """The whole case.toml. Validate with ``context={"root": case_folder}`` so file names are checked."""

    title: Text = ""
    profile: Annotated[str | dict[str, Any], BeforeValidator(_profile_value)] | None = None
    order: Order
    dispute: Dispute
    facts: Facts = Facts()
    tracking: tuple[TrackingRef, ...] = ()
    video: VideoSpec = VideoSpec()
    photos: tuple[PhotoHint, ...] = ()

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "CaseFile":
        """Checks across tables, all reported together."""
        problems = _amount_problem(self.dispute.amount, self.order.price)
        problems += _cross_problems(self.order, self.dispute, self.facts, _today(info.context))
        if problems:
            raise PydanticCustomError(PROBLEMS, "{count} problems", {"problems": problems, "count": len(problems)})
        return self


def _today(context: Mapping[str, Any] | None) -> date:
    """A --today ahead (planning, reproducible builds) allows dates up to it; one behind never refuses the past."""
    return max(date.today(), (context or {}).get("today") or date.today())


def _future(where: str, day: date | None, today: date) -> list[Found]:
    if day is not None and day > today + TIME_ZONE_SLACK:
        return [Found(where, f"{day.isoformat()} is in the future (today is {today.isoformat()}): check the date",
                      "future", {"day": day, "today": today})]
    return []


def _cross_problems(order: Order | None, dispute: Dispute | None, facts: Facts | None,
                    today: date) -> list[Found]:
    """The checks across fields and tables. A table given as None did not validate on its own: the checks that
    need it are left out (``validate_case_data`` runs the others beside its problems)."""
    problems: list[Found] = []
    tables = {"order": order, "dispute": dispute, "facts": facts}
    for table, names in PAST_DATES.items():
        if tables[table] is not None:
            for name in names:
                problems += _future(f"{table}.{name}", getattr(tables[table], name), today)
    problems += _sequence_problems(order, dispute, facts)
    if dispute is not None and facts is not None:
        for name in facts.given():
            reasons = FACT_REASONS[name]
            if reasons is not None and dispute.reason not in reasons:
                problems.append(Found(f"facts.{name}", f"is not used for the reason '{dispute.reason}' (it is for: "
                                                       f"{', '.join(sorted(reasons))}); remove it or change the reason",
                                      "other_reason", {"reason": dispute.reason, "reasons": tuple(sorted(reasons))}))
    return problems


def _sequence_problems(order: Order | None, dispute: Dispute | None, facts: Facts | None) -> list[Found]:
    """Dates of the dispute in the order they happen, and a decision with what it needs (each check that has
    its tables)."""
    problems = []
    if dispute is not None:
        steps = (("dispute.opened", dispute.opened), ("dispute.escalated", dispute.escalated),
                 ("dispute.escalated_closed", dispute.escalated_closed))
        known = [(name, day) for name, day in steps if day is not None]
        for (before, first), (after, then) in zip(known, known[1:]):
            if then < first:
                problems.append(Found(after, f"{then.isoformat()} is before {before} ({first.isoformat()}): check "
                                             "the dates", "before_step", {"day": then, "other": before, "other_day": first}))
        if dispute.seller_replied and dispute.seller_contacted and dispute.seller_replied < dispute.seller_contacted:
            problems.append(Found("dispute.seller_replied", "is before dispute.seller_contacted: a reply comes after "
                                                            "the first message", "reply_before_contact"))
        if dispute.decision and not dispute.escalated_closed:
            problems.append(Found("dispute.decision", "needs dispute.escalated_closed, the day the platform decided",
                                  "decision_needs_day"))
        if dispute.decision_amount is not None:
            if dispute.decision != "partial_refund":
                problems.append(Found("dispute.decision_amount", 'is the partial refund the platform granted: set '
                                                                 'dispute.decision = "partial_refund" or remove it',
                                      "not_partial"))
            elif order is not None and order.price is not None and dispute.decision_amount > order.price:
                problems.append(Found("dispute.decision_amount", f"{dispute.decision_amount} is more than "
                                                                 f"order.price {order.price}", "more_than_price",
                                      {"amount": dispute.decision_amount, "price": order.price}))
    if facts is None or order is None:
        return problems
    if facts.expiry_date and order.delivered and facts.expiry_date > order.delivered:
        problems.append(Found("facts.expiry_date", f"{facts.expiry_date.isoformat()} is after order.delivered: the "
                                                   "item was not yet expired when it arrived", "not_expired",
                              {"day": facts.expiry_date}))
    if facts.promised_delivery_by and order.delivered and order.delivered <= facts.promised_delivery_by:
        problems.append(Found("facts.promised_delivery_by", "is on or after order.delivered: the parcel came in time",
                              "came_in_time"))
    if facts.promised_delivery_by and order.shipped and facts.promised_delivery_by < order.shipped:
        problems.append(Found("facts.promised_delivery_by", "is before order.shipped: check the date", "before",
                              {"other": "order.shipped"}))
    return problems


def _problems_beside(data: Mapping[str, Any], context: Mapping[str, Any]) -> list[Found]:
    """The checks across tables, for when a field failed and the whole file's check never ran: run over the
    tables that validate on their own, and the future-date check over each date that reads as a date, so the
    buyer hears every problem at once."""
    tables = valid_tables(CaseFile, data, context)
    today = _today(context)
    problems = _cross_problems(tables.get("order"), tables.get("dispute"), tables.get("facts"), today)
    for table, names in PAST_DATES.items():
        raw = data.get(table)
        for name in names if isinstance(raw, Mapping) and table not in tables else ():
            try:
                day = _day(raw[name]) if name in raw else None
            except PydanticCustomError:
                continue  # not a date: its own problem says so
            problems += _future(f"{table}.{name}", day, today)
    return problems


def _amount_problem(amount: Decimal | None, price: Decimal | None) -> list[Found]:
    if amount is not None and price is not None and amount > price:
        return [Found("dispute.amount", f"{amount} is more than order.price {price}", "more_than_price",
                      {"amount": amount, "price": price})]
    return []


def _raw_amount_problem(data: Mapping[str, Any]) -> list[Found]:
    """The amount-against-price check on raw tables, for when another table failed and the model check
    never ran: the buyer still hears every problem at once."""
    try:
        return _amount_problem(_amount(data["dispute"]["amount"]), _amount(data["order"]["price"]))
    except (KeyError, TypeError, ValueError, ArithmeticError, PydanticCustomError):
        return []


@dataclass(frozen=True)
class Media:
    photos: tuple[Path, ...] = ()
    videos: tuple[Path, ...] = ()
    chat: tuple[Path, ...] = ()
    tracking: tuple[Path, ...] = ()
    receipts: tuple[Path, ...] = ()
    skipped: tuple[tuple[Path, str], ...] = ()  # (file, why) for entries that cannot be read as files

    def all_files(self) -> list[Path]:
        return [*self.photos, *self.videos, *self.chat, *self.tracking, *self.receipts]


@dataclass(frozen=True)
class Case:
    """A frozen dataclass, not a model: it holds what no table holds (folder, media found, the Profile
    object), and ``dataclasses.replace(case, ...)`` stays the way to vary one; its tables are pydantic models
    (vary them with ``model_copy(update=...)``)."""

    root: Path
    title: str
    order: Order
    dispute: Dispute
    profile: Profile
    media: Media
    tracking: tuple[TrackingRef, ...] = ()
    video: VideoSpec = field(default_factory=VideoSpec)
    photo_hints: tuple[PhotoHint, ...] = ()
    facts: Facts = field(default_factory=Facts)

    @property
    def case_file(self) -> Path:
        return self.root / CASE_FILE

    def hint_for(self, photo: Path) -> PhotoHint | None:
        resolved = photo.resolve()
        return next((h for h in self.photo_hints if h.file.resolve() == resolved), None)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a case: where (``order.shipped``; empty for the file as a whole) and what, in plain words."""

    path: str
    message: str
    kind: str = ""  # the same for a program (``validation.Found``), "" when only the message says it
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


_TIMESTAMP = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:\.\d+)?)$")


def parse_timestamp(text: str | int | float) -> float:
    """Seconds from ``42``, ``0:42``, ``1:02:03`` or ``00:00:42.5``; raises ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"not a time: {text!r}")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"time cannot be negative: {text}")
        return float(text)
    match = _TIMESTAMP.match(text.strip())
    if not match:
        raise ValueError(f"not a time: {text!r} (use 42, 0:42 or 00:00:42.5)")
    hours, minutes, seconds = match.groups()
    if (hours or minutes) and float(seconds) >= 60:
        raise ValueError(f"not a time: {text!r} (seconds must be below 60)")
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def _is_output(path: Path, root: Path) -> bool:
    """True for files under a package we wrote (so a rebuild never eats its own output)."""
    rel = path.relative_to(root).parts
    return any(part.startswith(PACKAGE_DIR) or part.startswith(".") for part in rel)


def discover_media(root: Path, exclude: Path | None = None) -> Media:
    """Find media in the case's subfolders, and loose files at its root by type."""
    found: dict[str, list[Path]] = {kind: [] for kind in SUBFOLDERS}
    skipped: list[tuple[Path, str]] = []

    def usable(path: Path) -> bool:
        if path.is_symlink() and not path.exists():  # dangling, or a loop: is_file() says False for both
            skipped.append((path, "a link to a file that does not exist (or a link loop): skipped"))
            return False
        return path.is_file()

    for kind, folder in SUBFOLDERS.items():
        sub = root / folder
        if sub.is_dir():
            found[kind] = sorted(p for p in sub.rglob("*") if not _is_output(p, root)
                                 and not (exclude and exclude in p.parents) and usable(p))
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not usable(path):
            continue
        suffix = path.suffix.lower()
        if suffix in PHOTO_SUFFIXES:
            found["photos"].append(path)
        elif suffix in VIDEO_SUFFIXES:
            found["videos"].append(path)
        elif suffix in TRACKING_SUFFIXES:
            found["tracking"].append(path)
        elif suffix in RECEIPT_SUFFIXES:
            found["receipts"].append(path)
    # Only image files count as photos; other files in photos/ are left alone (and listed as ignored).
    found["photos"] = [p for p in found["photos"] if p.suffix.lower() in PHOTO_SUFFIXES]
    found["videos"] = [p for p in found["videos"] if p.suffix.lower() in VIDEO_SUFFIXES]
    return Media(**{kind: tuple(paths) for kind, paths in found.items()}, skipped=tuple(sorted(skipped)))


def _profile_from(value: Any, root: Path) -> Profile:
    """``profile = "aliexpress"``, ``profile = "my.toml"`` or ``[profile]`` with ``name``/``file`` and overrides."""
    if value is None:
        return load_profile(DEFAULT_PROFILE)
    if isinstance(value, str):
        base, overrides = value, {}
    else:
        overrides = dict(value)
        base = overrides.pop("file", None) or overrides.pop("name", DEFAULT_PROFILE)
    candidate = root / base
    profile = load_profile(candidate if candidate.suffix == ".toml" else base)
    return profile.with_overrides(overrides, str(root / CASE_FILE)) if overrides else profile


def _problem(text: str) -> Problem:
    """A profile problem ("profile.max_photos: must be ...", or a sentence about the profile as a whole)."""
    path, sep, message = text.partition(": ")
    return Problem(path, message) if sep and re.fullmatch(r"profile(\.\w+)*", path) else Problem("profile", text)


def validate_case_data(data: Mapping[str, Any], root: str | Path, *, profile: Profile | str | Path | None = None,
                       today: date | None = None) -> Case | list[Problem]:
    """The Case that ``data`` (a parsed case.toml, or a web form's fields in the same shape) describes for the
    case folder ``root``, or every problem found in it. ``profile`` replaces the one ``data`` names; dates of
    what has happened may not lie after today (or after ``today``, when it is later)."""
    root = Path(root)
    problems: list[Problem] = []
    context = {"root": root, "today": today}
    try:
        file: CaseFile | None = CaseFile.model_validate(dict(data), context=context)
    except ValidationError as exc:
        problems += [Problem(*found) for found in problems_found(exc, CaseFile)]
        if not any(p.path == "dispute.amount" for p in problems):
            problems += [Problem(*found) for found in _raw_amount_problem(data)]
        said = {(p.path, p.message) for p in problems}
        problems += [Problem(*found) for found in _problems_beside(data, context) if found[:2] not in said]
        file = None
    try:
        named = data.get("profile") if isinstance(data.get("profile"), (str, dict)) else None
        chosen = profile if isinstance(profile, Profile) else (
            load_profile(profile) if profile is not None else _profile_from(named, root))
    except CaseError as exc:
        problems += [_problem(p) for p in exc.problems]
    if problems or file is None:
        return problems
    return Case(root=root, title=file.title or f"Order {file.order.number}", order=file.order, dispute=file.dispute,
                profile=chosen, media=discover_media(root), tracking=file.tracking, video=file.video,
                photo_hints=file.photos, facts=file.facts)


def read_case_toml(toml_path: Path, root: Path, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """case.toml parsed; CaseError for a missing one (saying how to start), a pipe, device, folder or huge
    file, a text not in UTF-8, or TOML that does not parse (``model.tomlfile``)."""
    try:
        return load_toml(toml_path, str(toml_path), CASE_FILE, parse_float)
    except FileNotFoundError:
        raise CaseError(str(toml_path),
                        [f"missing: run 'evidence-kit init {shown(str(root))}' to write a template"]) from None


def load_case(path: str | Path, *, profile: Profile | str | Path | None = None, today: date | None = None) -> Case:
    """Read and validate a case folder (or its case.toml). Raises CaseError listing every problem.

    ``profile`` (a Profile, a built-in name or a .toml path) replaces the one case.toml names.
    """
    root = Path(path)
    if root.is_file() and root.name == CASE_FILE:
        root = root.parent
    if not root.is_dir():
        raise InputError("no such case folder", path=str(root))
    toml_path = root / CASE_FILE
    source = str(toml_path)
    data = read_case_toml(toml_path, root)
    return parse_case(data, root, source=source, profile=profile, today=today)


def parse_case(data: Mapping[str, Any], root: Path, *, source: str,
               profile: Profile | str | Path | None = None, today: date | None = None) -> Case:
    """``validate_case_data`` raising CaseError: the checks ``load_case`` makes, so a form (the web app)
    gets the same messages before anything is written."""
    result = validate_case_data(data, root, profile=profile, today=today)
    if isinstance(result, list):
        error = CaseError(source, [str(p) for p in result])
        error.found = result  # type: ignore[attr-defined]  # each with its kind: the web app words them
        raise error
    return result
