"""Where a case stands, derived from its dates and facts: the stage decides which texts are written and which
deadline binds (RULES.md, "Time windows").

Stages in the order a dispute goes through them: before contacting the seller, talking to the seller, dispute
open, escalated to the platform, decided (appeal window open or closed, or nothing to appeal after a full
refund), and too late to open a dispute. Each text kind names the stages it serves (``stages`` in its template,
``templates/complaint/*.toml``); ``complaint.kinds_for`` reads them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..model.case import Case
from ..model.reasons import REASON_RULES
from .deadlines import Deadline, DeadlineReport, compute_deadlines, human_date

BEFORE_CONTACT, TALKING, DISPUTE_OPEN, ESCALATED = "before_contact", "talking_to_seller", "dispute_open", "escalated"
APPEAL_OPEN, APPEAL_CLOSED, REFUNDED, TOO_LATE = ("decided_appeal_open", "decided_appeal_closed", "decided_refunded",
                                                  "too_late")
STAGES = {BEFORE_CONTACT: "before contacting the seller", TALKING: "talking to the seller",
          DISPUTE_OPEN: "dispute open", ESCALATED: "dispute escalated to the platform",
          APPEAL_OPEN: "decided, appeal window open", APPEAL_CLOSED: "decided, appeal window closed",
          REFUNDED: "decided with a full refund", TOO_LATE: "too late to open a dispute"}
BEFORE_DISPUTE = frozenset({BEFORE_CONTACT, TALKING})
ENDED = frozenset({APPEAL_CLOSED, TOO_LATE})
# With fewer days than this before the deadline that binds, there is no time to wait for the seller's answer
# (they usually take days): the buyer opens the dispute instead of writing to the seller.
NEGOTIATION_MIN_DAYS = 3
# Asking the seller to extend buyer protection makes sense when it is about to end (002), not weeks ahead.
PROTECTION_SOON_DAYS = 10


@dataclass(frozen=True)
class CaseStage:
    key: str
    today: date
    binding: Deadline | None  # the deadline that binds now (None: the platform is deciding)
    protection_ended: bool  # buyer protection is over (the additional days to open a dispute may remain)
    negotiable: bool  # enough days left to wait for the seller's answer
    escalated_on: date | None  # the day the dispute went to the platform, given or expected
    possible: tuple[str, ...] = ()  # what is still possible when the dispute itself is over, in plain words
    detail: str = ""  # a sentence of what the stage means for the texts
    too_early: bool = False  # a dispute cannot be opened yet (too few days since shipment)
    protection_soon: bool = False  # buyer protection ends within PROTECTION_SOON_DAYS: time to ask for an extension

    @property
    def title(self) -> str:
        return STAGES[self.key]

    @property
    def days_left(self) -> int | None:
        """Days from today to the binding deadline (negative: it has passed)."""
        return (self.binding.day - self.today).days if self.binding and self.binding.day else None

    @property
    def headline(self) -> str:
        """The stage and the deadline that binds, for the top of every text command's output."""
        words = [f"Stage: {self.title}."]
        left = self.days_left
        if self.binding and self.binding.day and left is not None:
            title = self.binding.title[0].lower() + self.binding.title[1:]
            if left >= 0:
                words.append(f"Deadline that binds: {title}, {human_date(self.binding.day)} "
                             f"({'today' if left == 0 else _days(left) + ' left'}).")
            else:
                words.append(f"The {title} was {human_date(self.binding.day)} ({_days(-left)} ago).")
        if self.detail:
            words.append(self.detail)
        if self.possible:
            words.append("Still possible: " + "; ".join(self.possible) + ".")
        return " ".join(words)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "headline": self.headline,
                "binding": self.binding.to_dict() if self.binding else None, "days_left": self.days_left,
                "protection_ended": self.protection_ended, "negotiable": self.negotiable,
                "escalated_on": self.escalated_on.isoformat() if self.escalated_on else None,
                "possible": list(self.possible), "too_early": self.too_early}


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _possible(report_grounds: bool) -> tuple[str, ...]:
    return (*(("a report against the seller for breaking the Trade Rules",) if report_grounds else ()),
            "a message to the platform's customer support with this package")


def _pre_dispute_binding(case: Case, report: DeadlineReport, today: date) -> Deadline | None:
    """The earliest deadline still ahead before a dispute is open: buyer protection's end for a parcel that
    has not come (the articles say to open before it), a hidden defect's 15 days, the last day to open."""
    order, reason = case.order, case.dispute.reason
    last = report.get("last_open")
    candidates = [d for d in (last,) if d and d.day]
    if not REASON_RULES[reason].parcel_arrived and order.delivered is None and order.protection_ends:
        candidates.append(Deadline("protection_ends", "Buyer protection ends", order.protection_ends,
                                   "a parcel that has not come: open the dispute before protection ends (000, 002)"))
    hidden = report.get("hidden_defect_until")
    if reason == "defective" and hidden and hidden.day:  # damage seen on arrival is not a hidden defect
        candidates.append(hidden)
    ahead = [d for d in candidates if d.day and d.day >= today]
    return min(ahead, key=lambda d: d.day) if ahead else (last if last and last.day else None)


def case_stage(case: Case, today: date, *, report: DeadlineReport | None = None,
               report_grounds: bool = False) -> CaseStage:
    """The stage of ``case`` on ``today``. ``report_grounds``: the facts show a Trade Rules violation (a report
    against the seller stays possible after the dispute's own windows have closed)."""
    report = report or compute_deadlines(case, today)
    order, dispute = case.order, case.dispute
    ended = bool(order.protection_ends and today > order.protection_ends)
    expected = report.get("escalation_expected")
    escalated_on = dispute.escalated or (expected.day if expected and expected.day and dispute.opened else None)

    soon = bool(order.protection_ends and today <= order.protection_ends <= today + timedelta(PROTECTION_SOON_DAYS))

    def stage(key: str, binding: Deadline | None, *, negotiable: bool = False, possible: tuple[str, ...] = (),
              detail: str = "", too_early: bool = False) -> CaseStage:
        return CaseStage(key, today, binding, ended, negotiable, escalated_on, possible, detail, too_early, soon)

    if dispute.escalated_closed:
        appeal = report.get("appeal_until")
        if dispute.decision == "full_refund":
            return stage(REFUNDED, None, detail=f"The platform decided on {human_date(dispute.escalated_closed)} "
                                                "to give a full refund: there is nothing to appeal.")
        if appeal and appeal.day and today <= appeal.day:
            return stage(APPEAL_OPEN, appeal)
        return stage(APPEAL_CLOSED, appeal, possible=_possible(report_grounds))
    if dispute.escalated or (dispute.opened and escalated_on and today > escalated_on):
        detail = ("The platform is deciding the dispute; once it decides, you have "
                  f"{case.profile.appeal_days} days to appeal.")
        if not dispute.escalated:
            detail = (f"The dispute was opened on {human_date(dispute.opened)} and, without an agreement, goes to "
                      f"the platform after {report.negotiation_days} days (around {human_date(escalated_on)}). "
                      + detail)
        return stage(ESCALATED, None, detail=detail)
    if dispute.opened:
        detail = (f"Dispute open since {human_date(dispute.opened)}; without an agreement it goes to the platform "
                  f"around {human_date(escalated_on)}." if escalated_on else "")
        return stage(DISPUTE_OPEN, None, negotiable=True, detail=detail)
    binding = _pre_dispute_binding(case, report, today)
    last = report.get("last_open")
    if last and last.day and today > last.day:
        return stage(TOO_LATE, last, possible=_possible(report_grounds))
    left = (binding.day - today).days if binding and binding.day else None
    negotiable = left is None or left >= NEGOTIATION_MIN_DAYS
    detail = "" if negotiable else ("Open the dispute now: there is no time to wait for the seller's answer, so no "
                                    "message to the seller is written.")
    earliest = report.get("earliest_open")
    early = bool(earliest and earliest.day and today < earliest.day)
    if early:
        detail = (f"Too early to open a dispute: it can be opened from {human_date(earliest.day)}, so no dispute "
                  "text is written yet.")
    contacted = bool(dispute.seller_contacted or dispute.seller_reply or case.media.chat)
    return stage(TALKING if contacted else BEFORE_CONTACT, binding, negotiable=negotiable, detail=detail,
                 too_early=early)

