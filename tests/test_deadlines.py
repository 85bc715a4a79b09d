"""Deadlines: every rule at its boundary (day 9 / day 10, last day / day after), across month and year ends."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence_kit.dispute import deadlines as dl
from evidence_kit.model.case import load_case
from evidence_kit.cli import main
from evidence_kit.dispute.deadlines import add_months, compute_deadlines

from .conftest import CASE_TOML


def case_toml(reason: str = "damaged", *, shipped: str | None = "2026-10-03", delivered: str | None = "2026-10-30",
              protection_ends: str | None = "2026-12-01", dispute_extra: str = "", profile: str = "") -> str:
    dates = "".join(f"{k} = {v}\n" for k, v in (("shipped", shipped), ("delivered", delivered),
                                                ("protection_ends", protection_ends)) if v)
    return (f'{profile}\n[order]\nnumber = "8100000000000001"\nordered = 2026-09-01\n{dates}\n'
            f'[dispute]\nreason = "{reason}"\nresolution = "refund_only"\n{dispute_extra}\n')


@pytest.fixture
def case_of(make_case):
    counter = iter(range(1000))

    def make(**kwargs):
        # Judged as on a day after every date these tests use: they test the arithmetic, not "not in the future".
        return load_case(make_case(case_toml(**kwargs), name=f"case{next(counter)}"), today=date(2028, 12, 31))

    return make


def test_earliest_day_boundary_across_the_year_end(case_of):
    case = case_of(shipped="2026-12-25", delivered=None, protection_ends="2027-02-20")
    day9 = compute_deadlines(case, date(2027, 1, 3))
    day10 = compute_deadlines(case, date(2027, 1, 4))
    assert day9.get("earliest_open").day == date(2027, 1, 4)
    assert day9.status == dl.TOO_EARLY and "Mon 4 January 2027" in day9.advice and "1 day from today" in day9.advice
    assert day10.status == dl.OPEN_NOW


def test_last_day_and_the_day_after_across_february(case_of):
    case = case_of(protection_ends="2028-02-20", shipped="2027-12-20", delivered="2028-01-15")
    last = compute_deadlines(case, date(2028, 3, 6))  # 2028 is a leap year: 20 Feb + 15 days = 6 Mar
    after = compute_deadlines(case, date(2028, 3, 7))
    assert last.get("last_open").day == date(2028, 3, 6)
    assert last.status == dl.LAST_DAYS and "the last day is Mon 6 March 2028" in last.advice
    assert after.status == dl.TOO_LATE and "was Mon 6 March 2028" in after.advice


def test_last_days_start_after_protection_ends_for_a_delivered_item(case_of):
    case = case_of(protection_ends="2026-12-01")
    assert compute_deadlines(case, date(2026, 12, 1)).status == dl.OPEN_NOW
    assert compute_deadlines(case, date(2026, 12, 2)).status == dl.LAST_DAYS


def test_missing_parcel_best_window_and_urgency(case_of):
    case = case_of(reason="not_received", shipped="2026-10-01", delivered=None, protection_ends="2026-11-20")
    best = compute_deadlines(case, date(2026, 11, 1)).get("best_open_if_not_received")
    assert (best.start, best.day) == (date(2026, 11, 15), date(2026, 11, 17))  # 5 and 3 days before protection ends
    assert compute_deadlines(case, date(2026, 11, 14)).status == dl.OPEN_NOW
    urgent = compute_deadlines(case, date(2026, 11, 15))
    assert urgent.status == dl.LAST_DAYS and "do it by Tue 17 November 2026" in urgent.advice


def test_long_protection_is_capped_at_57_days_after_shipment(case_of):
    case = case_of(reason="not_received", shipped="2026-10-01", delivered=None, protection_ends="2026-12-30")
    best = compute_deadlines(case, date(2026, 11, 1)).get("best_open_if_not_received")
    assert best.day == date(2026, 11, 27) and best.start is None  # 1 Oct + 57 days, before 25-27 Dec
    assert compute_deadlines(case, date(2026, 11, 26)).status == dl.OPEN_NOW
    assert compute_deadlines(case, date(2026, 11, 27)).status == dl.LAST_DAYS


@pytest.mark.parametrize("shipped, first_day", [
    ("2026-10-03", date(2026, 12, 4)),   # two months = 3 Dec, 60 days = 2 Dec: from the day after the later
    ("2026-12-31", date(2027, 3, 2)),    # two months = 28 Feb (no 31 Feb), 60 days = 1 Mar
    ("2027-12-31", date(2028, 3, 1)),    # two months = 29 Feb 2028, 60 days = 29 Feb
])
def test_full_refund_for_non_delivery_needs_more_than_two_months(case_of, shipped, first_day):
    case = case_of(reason="not_received", shipped=shipped, delivered=None, protection_ends=None)
    assert compute_deadlines(case, first_day).get("full_refund_from").day == first_day
    assert compute_deadlines(case, first_day).full_refund_now is True
    before = compute_deadlines(case, first_day - timedelta(1))
    assert before.full_refund_now is False and any("may extend buyer protection" in n for n in before.notes)


def test_hidden_defect_window_and_its_note(case_of):
    case = case_of(reason="defective", delivered="2026-11-18")
    assert compute_deadlines(case, date(2026, 12, 3)).get("hidden_defect_until").day == date(2026, 12, 3)
    assert not compute_deadlines(case, date(2026, 12, 3)).notes
    assert "ended on Thu 3 December 2026" in compute_deadlines(case, date(2026, 12, 4)).notes[0]


def test_appeal_deadline_boundary(case_of):
    case = case_of(dispute_extra="opened = 2026-11-20\nescalated_closed = 2026-12-28")
    on_last = compute_deadlines(case, date(2027, 1, 4))
    assert on_last.get("appeal_until").day == date(2027, 1, 4)
    assert on_last.status == dl.APPEAL_OPEN and "(0 days left)" in on_last.advice
    assert compute_deadlines(case, date(2027, 1, 5)).status == dl.APPEAL_TOO_LATE


def test_negotiation_days_from_profile_or_argument(case_of):
    default = compute_deadlines(case_of(dispute_extra="opened = 2026-11-20"), date(2026, 11, 21))
    assert default.negotiation_days == 15 and "from profile 'aliexpress'" in default.negotiation_hint
    assert default.get("escalation_expected").day == date(2026, 12, 5)
    assert default.status == dl.DISPUTE_OPEN and "Sat 5 December 2026" in default.advice
    short = compute_deadlines(case_of(dispute_extra="opened = 2026-11-20",
                                      profile='[profile]\nname = "aliexpress"\nnegotiation_days = 4'), date(2026, 11, 21))
    assert short.get("escalation_expected").day == date(2026, 11, 24) and "has 4 days to answer" in short.negotiation_note
    cli = compute_deadlines(case_of(dispute_extra="opened = 2026-11-20"), date(2026, 11, 21), negotiation_days=5)
    assert cli.negotiation_days == 5 and "set on the command line" in cli.negotiation_hint


def test_missing_dates_are_named_not_guessed(case_of):
    report = compute_deadlines(case_of(shipped=None, protection_ends=None), date(2026, 11, 25))
    # The advice is plain words (it goes into the PDF); the field to fill in is the command line's hint.
    assert report.status == dl.UNKNOWN and "the shipping date is missing" in report.advice
    assert "order.shipped" not in report.advice and "order.shipped" in report.hint
    assert report.get("earliest_open").day is None and report.get("last_open").day is None
    needed = " | ".join(report.needed)
    assert "order.shipped: needed for first day to open a dispute" in needed
    assert "order.protection_ends: needed for last day to open a dispute" in needed


def test_too_late_is_known_even_without_the_shipment_date(case_of):
    report = compute_deadlines(case_of(shipped=None, protection_ends="2026-11-01"), date(2026, 11, 17))
    assert report.status == dl.TOO_LATE


def test_add_months_clamps_to_month_end():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 2) == date(2027, 1, 15)


@pytest.fixture(scope="module")
def not_received_case(tmp_path_factory):
    root = tmp_path_factory.mktemp("prop")
    (root / "case.toml").write_text(case_toml(reason="not_received", delivered=None), encoding="utf-8")
    return load_case(root)


days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=80, deadline=None)
@given(shipped=days, protection=st.integers(10, 120), offset=st.integers(-5, 200))
def test_status_agrees_with_the_deadlines_for_any_dates(not_received_case, shipped, protection, offset):
    """Property: too early exactly before the first day, too late exactly after the last day."""
    ends = shipped + timedelta(protection)
    order = not_received_case.order.model_copy(update={"shipped": shipped, "protection_ends": ends})
    case = replace(not_received_case, order=order)
    today = shipped + timedelta(offset)
    report = compute_deadlines(case, today)
    first, last = report.get("earliest_open").day, report.get("last_open").day
    assert first == shipped + timedelta(10) and last == ends + timedelta(15)
    assert (report.status == dl.TOO_EARLY) == (today < first)
    assert (report.status == dl.TOO_LATE) == (today > last)
    best = report.get("best_open_if_not_received")
    assert best.day == max(first, min(shipped + timedelta(57), ends - timedelta(3)))
    assert report.full_refund_now == (today > add_months(shipped, 2) and today > shipped + timedelta(60))


def test_deadlines_command_text_and_json(make_case, capsys):
    root = make_case(case_toml())
    assert main(["deadlines", str(root), "--today", "2026-10-12"]) == 0
    out = capsys.readouterr().out
    assert "Status: too early" in out and "Tue 13 October 2026" in out and "Negotiation before escalation: 15 days" in out
    assert main(["deadlines", str(root), "--today", "2026-11-25", "--negotiation-days", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "open_now" and data["negotiation_days"] == 3
    assert {d["key"]: d["day"] for d in data["deadlines"]}["last_open"] == "2026-12-16"


def test_deadlines_command_rejects_a_bad_date(make_case, capsys):
    assert main(["deadlines", str(make_case(case_toml())), "--today", "25.11.2026"]) == 2


def test_nothing_the_cli_prints_names_the_source_articles(make_case, capsys):
    """The buyer reads rules in plain words; article numbers stay in the manifest and the README."""
    root = make_case(CASE_TOML.replace('reason = "damaged"', 'reason = "not_received"')
                     .replace("delivered = 2026-10-30\n", "").replace('notes = "Arrived broken."\n', ""))
    for args in (["deadlines", str(root), "--today", "2026-11-25"], ["deadlines", "--help"],
                 ["build", str(root), "--today", "2026-11-25"], ["build", "--help"]):
        main(args)
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "Best days to open a dispute" in text and "The seller usually has 15 days to answer" in text
    for word in ("seed", "article", "(000", "(001", "(002", "(003", "(004", "disagree"):
        assert word not in text.lower(), word
    manifest = json.loads((root / "evidence-package" / "manifest.json").read_text(encoding="utf-8"))
    # The sources are kept for the record, apart from the rules the buyer reads.
    assert "(000" not in json.dumps(manifest["deadlines"])
    assert {d["key"]: d["source"] for d in manifest["deadlines"]["deadlines"]}["last_open"] == "000, 004"


def test_urgent_advice_for_a_missing_parcel_names_protection_end_as_the_stage_does(case_of):
    from evidence_kit.dispute.stage import case_stage

    case = case_of(reason="not_received", shipped="2026-10-03", delivered=None, protection_ends="2026-12-30")
    today = date(2026, 12, 6)  # the best day (57-59 days after shipment) has passed; protection runs 24 more days
    report = compute_deadlines(case, today)
    assert report.advice.startswith("Urgent: open the dispute now, before buyer protection ends on Wed 30 "
                                    "December 2026 (the very last day is Thu 14 January 2027).")
    assert case_stage(case, today, report=report).binding.day == date(2026, 12, 30)
