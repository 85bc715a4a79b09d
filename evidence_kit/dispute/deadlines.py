"""Dispute deadlines from the order dates, and what the buyer can do today.

Every window comes from the case's profile (RULES.md, "Time windows"). Missing dates are never guessed:
a deadline that needs one says which case.toml field to fill in.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from ..model.case import Case
from ..model.reasons import REASON_RULES
from .checklist import without_sources

class StageHeadline(Protocol):
    """What a report needs of the case's stage (``dispute.stage.CaseStage``, which is worked out from this
    report, so it is named by shape here rather than imported)."""

    @property
    def headline(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


# Statuses for "what can I do today"
TOO_EARLY, OPEN_NOW, LAST_DAYS, TOO_LATE, UNKNOWN = "too_early", "open_now", "last_days", "too_late", "unknown"
DISPUTE_OPEN, APPEAL_OPEN, APPEAL_TOO_LATE = "dispute_open", "appeal_open", "appeal_too_late"

HIDDEN_DEFECT_REASONS = frozenset({"damaged", "defective"})
# "(000)", "(000, 004)", "(000: 57-59)": the article a rule came from.
_SOURCE_TAG = re.compile(r"\s*\((\d{3}(?:[,:][^)]*)?)\)")
# case.toml fields a deadline can need, as the buyer would name them.
FIELD_WORDS = {"order.shipped": "the shipping date", "order.delivered": "the delivery date",
               "order.protection_ends": "the day buyer protection ends", "dispute.opened": "the day the dispute "
               "was opened", "dispute.escalated_closed": "the day the platform decided the escalated dispute"}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day (31 Dec + 2 -> 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def human_date(day: date) -> str:
    """``Wed 2 December 2026``: unambiguous in every country."""
    return f"{day:%a} {day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Deadline:
    key: str
    title: str
    day: date | None  # the deadline (for a window: its last day)
    rule: str  # how it is computed and from which article
    start: date | None = None  # first day, for a window
    needs: tuple[str, ...] = ()  # case.toml fields that are missing for it
    source: str = ""  # the articles the rule comes from ("000, 004"): manifest and JSON only

    def __post_init__(self) -> None:
        # A rule may be written with its source in brackets; the buyer reads the rule, the source is kept apart.
        found = _SOURCE_TAG.search(self.rule)
        if found:
            object.__setattr__(self, "rule", _SOURCE_TAG.sub("", self.rule).strip())
            object.__setattr__(self, "source", self.source or found.group(1))

    @property
    def missing_words(self) -> str:
        """What is missing, in plain words ("the shipping date"), for the PDF."""
        return ", ".join(FIELD_WORDS.get(name, name.rsplit(".", 1)[-1].replace("_", " ")) for name in self.needs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat() if self.day else None
        data["start"] = self.start.isoformat() if self.start else None
        data["needs"] = list(self.needs)
        data["missing"] = self.missing_words
        return data


@dataclass
class DeadlineReport:
    today: date
    status: str
    advice: str  # what to do today, one or two sentences
    deadlines: list[Deadline]
    negotiation_days: int
    negotiation_note: str  # how long the seller has to answer, in the buyer's words
    negotiation_hint: str = ""  # where the value came from and how to change it (command line only)
    hint: str = ""  # which case.toml field would complete the advice (command line only)
    full_refund_now: bool | None = None  # non-delivery only: None when it cannot be told
    notes: list[str] = field(default_factory=list)  # caveats and missing facts
    stage: StageHeadline | None = None  # where the case stands (``dispute.stage``), when it was worked out

    def get(self, key: str) -> Deadline | None:
        return next((d for d in self.deadlines if d.key == key), None)

    @property
    def needed(self) -> list[str]:
        """Plain-words list of the facts that would complete the report."""
        return [f"{', '.join(d.needs)}: needed for {d.title.lower()}" for d in self.deadlines if d.needs]

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "status": self.status, "advice": self.advice,
                "negotiation_days": self.negotiation_days, "negotiation_note": self.negotiation_note,
                "negotiation_hint": self.negotiation_hint, "hint": self.hint,
                "full_refund_now": self.full_refund_now, "deadlines": [d.to_dict() for d in self.deadlines],
                "needed": self.needed, "notes": [without_sources(n) for n in self.notes],
                "stage": self.stage.to_dict() if self.stage else None}


# The guides disagree on how long the seller has to answer: 15 days (004) or "usually 3-5 days" (000). The buyer
# hears it in plain words; the article numbers stay in the rules (manifest, README).
def _negotiation_words(days: int) -> str:
    """How long the seller has to answer before escalation, as a buyer would say it."""
    if days == 15:
        return "The seller usually has 15 days to answer; some buyers report 3 to 5 days."
    return (f"The seller has {days} days to answer before the dispute can be escalated (counted here; guides give "
            "15 days, some buyers report 3 to 5).")


def _negotiation_hint(days: int, profile_name: str, overridden: bool) -> str:
    """Where the value came from and how to change it: for the command line, never for the PDF."""
    where = "set on the command line" if overridden else f"from profile '{profile_name}'"
    return (f"Negotiation before escalation: {days} days, {where}. Change it with negotiation_days in case.toml's "
            "[profile] (or 'evidence-kit deadlines --negotiation-days N').")


def compute_deadlines(case: Case, today: date, *, negotiation_days: int | None = None) -> DeadlineReport:
    """All deadlines of the case and the status for ``today``. ``negotiation_days`` overrides the profile."""
    p, order, dispute = case.profile, case.order, case.dispute
    reason = REASON_RULES[dispute.reason]
    parcel_missing = not reason.parcel_arrived and order.delivered is None
    shipped, ends = order.shipped, order.protection_ends
    days = timedelta
    deadlines: list[Deadline] = []

    earliest = shipped + days(p.dispute_open_after_shipment_days) if shipped else None
    deadlines.append(Deadline(
        "earliest_open", "First day to open a dispute", earliest,
        f"{p.dispute_open_after_shipment_days} days after shipment (000)", needs=() if shipped else ("order.shipped",)))
    last = ends + days(p.dispute_close_after_protection_days) if ends else None
    deadlines.append(Deadline(
        "last_open", "Last day to open a dispute", last,
        f"{p.dispute_close_after_protection_days} days after buyer protection ends (000, 004)",
        needs=() if ends else ("order.protection_ends",)))

    full_refund_from = None
    if not reason.parcel_arrived:
        deadlines.append(_best_day_for_missing_parcel(case, earliest))
        if shipped:
            # "More than two months": counted safely, after both two calendar months and the profile's days.
            full_refund_from = max(add_months(shipped, 2), shipped + days(p.non_delivery_full_refund_days)) + days(1)
        deadlines.append(Deadline(
            "full_refund_from", "Non-delivery qualifies for a full refund from", full_refund_from,
            f"more than two months after shipment, counted as the later of two calendar months and "
            f"{p.non_delivery_full_refund_days} days (000)", needs=() if shipped else ("order.shipped",)))

    if dispute.reason in HIDDEN_DEFECT_REASONS:
        delivered = order.delivered
        deadlines.append(Deadline(
            "hidden_defect_until", "Last day to report a hidden defect",
            delivered + days(p.hidden_defect_days) if delivered else None,
            f"{p.hidden_defect_days} days after delivery (000)", needs=() if delivered else ("order.delivered",)))

    negotiation = negotiation_days or p.negotiation_days
    deadlines.append(Deadline(
        "escalation_expected", "Escalation to AliExpress expected around",
        dispute.opened + days(negotiation) if dispute.opened else None,
        f"{negotiation} days of negotiation with the seller after the dispute opens (profile negotiation_days)",
        needs=() if dispute.opened else ("dispute.opened",)))
    closed = dispute.escalated_closed
    deadlines.append(Deadline(
        "appeal_until", "Last day to appeal an escalated-dispute decision",
        closed + days(p.appeal_days) if closed else None,
        f"{p.appeal_days} days after the escalated dispute closes (000, 004)",
        needs=() if closed else ("dispute.escalated_closed",)))

    report = DeadlineReport(today, UNKNOWN, "", deadlines, negotiation, _negotiation_words(negotiation),
                            _negotiation_hint(negotiation, p.name, negotiation_days is not None))
    if full_refund_from is not None:
        report.full_refund_now = parcel_missing and today >= full_refund_from
        if parcel_missing and not report.full_refund_now:
            report.notes.append(f"Before {human_date(full_refund_from)} the seller may extend buyer protection "
                                "instead, which closes the dispute: open it again after the new period if the parcel "
                                "still has not come (000, 002).")
    if reason.caveat:
        report.notes.append(f"Note: {reason.caveat}.")
    hidden = report.get("hidden_defect_until")
    if hidden and hidden.day and today > hidden.day:
        report.notes.append(f"The window for a hidden defect found after delivery ended on {human_date(hidden.day)}; "
                            "damage visible on arrival is not affected.")
    _set_status(report, case, parcel_missing)
    return report


def _best_day_for_missing_parcel(case: Case, earliest: date | None) -> Deadline:
    """3-5 days before protection ends, and no later than 57(-59) days after shipment (000)."""
    p, shipped, ends = case.profile, case.order.shipped, case.order.protection_ends
    candidates = []
    if ends:
        candidates.append(ends - timedelta(p.non_delivery_best_min_days_before_protection_end))
    if shipped:
        candidates.append(shipped + timedelta(p.non_delivery_latest_days_after_shipment))
    by = min(candidates) if candidates else None
    start = ends - timedelta(p.non_delivery_best_max_days_before_protection_end) if ends else None
    if start and earliest and start < earliest:
        start = earliest
    if start and by and start > by:
        start = None  # a long protection period: only "no later than" holds
    if by and earliest and by < earliest:
        by, start = earliest, None  # a very short protection period: as soon as a dispute can be opened
    needs = tuple(f for f, v in (("order.protection_ends", ends), ("order.shipped", shipped)) if v is None)
    return Deadline(
        "best_open_if_not_received", "Best days to open a dispute for a parcel that has not come", by,
        f"{p.non_delivery_best_min_days_before_protection_end} to {p.non_delivery_best_max_days_before_protection_end}"
        f" days before buyer protection ends, and no later than {p.non_delivery_latest_days_after_shipment} days "
        "after shipment (000: 57-59)", start=start, needs=needs)


def _set_status(report: DeadlineReport, case: Case, parcel_missing: bool) -> None:
    today, dispute = report.today, case.dispute
    get = report.get
    if dispute.escalated_closed:
        until = get("appeal_until").day
        left = (until - today).days
        if left >= 0:
            report.status = APPEAL_OPEN
            report.advice = (f"You can appeal the escalated-dispute decision until {human_date(until)} "
                             f"({_days(left)} left), in English, at most {case.profile.max_text_chars} characters.")
        else:
            report.status = APPEAL_TOO_LATE
            report.advice = f"Too late to appeal: the last day was {human_date(until)}."
        return
    if dispute.opened:
        report.status = DISPUTE_OPEN
        expected = get("escalation_expected").day
        report.advice = (f"Your dispute is open since {human_date(dispute.opened)}. If you and the seller do not agree,"
                         f" it is escalated to AliExpress around {human_date(expected)} (after "
                         f"{report.negotiation_days} days).")
        return
    earliest, last = get("earliest_open").day, get("last_open").day
    if last and today > last:
        report.status = TOO_LATE
        report.advice = f"Too late to open a dispute: the last day was {human_date(last)}."
        return
    if earliest is None:
        report.advice = "Cannot tell whether a dispute can be opened today: the shipping date is missing."
        report.hint = "Add order.shipped to case.toml."
        return
    if today < earliest:
        report.status = TOO_EARLY
        report.advice = (f"Too early: a dispute can be opened from {human_date(earliest)} "
                         f"({_days((earliest - today).days)} from today).")
        return
    best = get("best_open_if_not_received")
    urgent_from = None
    ends = case.order.protection_ends
    if ends:
        urgent_from = ends + timedelta(1)  # in the additional days after protection ended
    if parcel_missing and best and best.day:
        urgent_from = min(x for x in (urgent_from, best.start or best.day) if x)
    if urgent_from and today >= urgent_from:
        report.status = LAST_DAYS
        if parcel_missing and ends and today <= ends:  # the articles say to open before protection ends (000, 002)
            report.advice = (f"Urgent: open the dispute now, before buyer protection ends on {human_date(ends)}"
                             + (f" (the very last day is {human_date(last)})." if last else "."))
        else:
            report.advice = "Urgent: open the dispute now" + (f"; the last day is {human_date(last)}." if last else ".")
        if parcel_missing and best and best.day:
            report.advice += (f" For a parcel that has not come, do it by {human_date(best.day)}." if today <= best.day
                              else f" The best day for a parcel that has not come ({human_date(best.day)}) has passed.")
        return
    report.status = OPEN_NOW
    closing = f" until {human_date(last)}" if last else " (until when depends on the day buyer protection ends)"
    if not last:
        report.hint = "Add order.protection_ends to case.toml to know the last day."
    report.advice = f"You can open a dispute now{closing}."
    if parcel_missing and best and best.day:
        report.advice += f" For a parcel that has not come, the best moment is {_window(best)}."


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _window(d: Deadline) -> str:
    if d.start and d.day and d.start != d.day:
        return f"from {human_date(d.start)} to {human_date(d.day)}"
    return f"no later than {human_date(d.day)}" if d.day else "unknown"


def format_report(report: DeadlineReport) -> str:
    """The report as the ``deadlines`` command prints it."""
    lines = [*([report.stage.headline] if report.stage else []), f"Today: {human_date(report.today)}",
             f"Status: {report.status.replace('_', ' ')}. {report.advice}", ""]
    for d in report.deadlines:
        when = _window(d) if d.start else (human_date(d.day) if d.day else "unknown")
        missing = f"  (needs {', '.join(d.needs)})" if d.needs else ""
        lines.append(f"  {d.title}: {when}{missing}")
        lines.append(f"      rule: {d.rule}")
    if report.full_refund_now is not None:
        lines.append(f"  Full refund for non-delivery today: {'yes' if report.full_refund_now else 'not yet'}")
    lines += ["", report.negotiation_note, report.negotiation_hint, *map(without_sources, report.notes)]
    if report.hint:
        lines.append(report.hint)
    return "\n".join(lines)
