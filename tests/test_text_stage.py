"""Where a case stands (its stage) from its dates and facts, which texts each stage gets, and what the texts and
the commands say about it: the deadline that binds, first."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from evidence_kit.cli import main
from evidence_kit.dispute.complaint import compose, compose_texts, kinds_for, stage_of
from evidence_kit.dispute.stage import (APPEAL_CLOSED, APPEAL_OPEN, BEFORE_CONTACT, DISPUTE_OPEN, ESCALATED,
                                        REFUNDED, TALKING, TOO_LATE)
from evidence_kit.errors import CaseError
from evidence_kit.model.case import load_case

from .test_complaint import BASE_TOML, TODAY, with_facts

# BASE_TOML: damaged kettle delivered 30 October, protection ends 1 December (last day to open: 16 December),
# seller contacted 1 November. TODAY is 25 November.
LAST_OPEN = date(2026, 12, 16)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage")
    (root / "case.toml").write_text(BASE_TOML, encoding="utf-8")
    return load_case(root)


def stage_key(case, today=TODAY):
    return stage_of(case, today).key


def test_every_stage_from_the_dates(base):
    assert stage_key(with_facts(base, seller_contacted=None)) == BEFORE_CONTACT
    assert stage_key(base) == TALKING
    assert stage_key(with_facts(base, seller_contacted=None, seller_reply="No reply so far")) == TALKING
    assert stage_key(with_facts(base, opened=date(2026, 11, 20))) == DISPUTE_OPEN
    assert stage_key(with_facts(base, opened=date(2026, 11, 20), escalated=date(2026, 11, 24))) == ESCALATED
    # Without an agreement a dispute goes to the platform after the negotiation days (15 in this profile).
    assert stage_key(with_facts(base, opened=date(2026, 11, 10))) == DISPUTE_OPEN  # day 15: still negotiating
    assert stage_key(with_facts(base, opened=date(2026, 11, 9))) == ESCALATED
    decided = with_facts(base, opened=date(2026, 11, 3), escalated_closed=date(2026, 11, 22), decision="seller")
    assert stage_key(decided) == APPEAL_OPEN
    assert stage_key(with_facts(decided, decision="full_refund")) == REFUNDED
    assert stage_key(base, LAST_OPEN + timedelta(1)) == TOO_LATE


@pytest.mark.parametrize("closed, expected", [(date(2026, 11, 18), APPEAL_OPEN), (date(2026, 11, 17), APPEAL_CLOSED)])
def test_the_appeal_window_boundary(base, closed, expected):
    """Seven days after the decision: the 7th day is the last one."""
    case = with_facts(base, opened=date(2026, 11, 2), escalated_closed=closed, decision="partial_refund",
                      decision_amount=Decimal("5.00"))
    stage = stage_of(case, TODAY)
    assert stage.key == expected and stage.binding.key == "appeal_until"
    assert ("appeal" in kinds_for(case, stage=stage)) == (expected == APPEAL_OPEN)


@pytest.mark.parametrize("today, expected", [(LAST_OPEN, TALKING), (LAST_OPEN + timedelta(1), TOO_LATE)])
def test_the_last_day_to_open_a_dispute_boundary(base, today, expected):
    stage = stage_of(base, today)
    assert stage.key == expected
    kinds = kinds_for(base, stage=stage)
    # On the last day there is no time to wait for the seller: the dispute only. After it: nothing to paste.
    assert kinds == (("dispute",) if expected == TALKING else ())
    if expected == TOO_LATE:
        assert "Still possible: a message to the platform's customer support" in stage.headline


def test_the_seller_message_needs_days_to_wait_for_an_answer(base):
    assert kinds_for(base, LAST_OPEN - timedelta(3)) == ("seller", "dispute")
    assert kinds_for(base, LAST_OPEN - timedelta(2)) == ("dispute",)
    assert "no time to wait for the seller's answer" in stage_of(base, LAST_OPEN - timedelta(1)).headline


def test_kinds_by_stage(base):
    assert kinds_for(with_facts(base, seller_contacted=None), TODAY) == ("seller", "dispute")
    assert kinds_for(with_facts(base, opened=date(2026, 11, 20)), TODAY) == ("seller", "dispute")
    assert kinds_for(with_facts(base, opened=date(2026, 11, 1), escalated=date(2026, 11, 16)), TODAY) == ("dispute",)
    decided = with_facts(base, opened=date(2026, 11, 2), escalated_closed=date(2026, 11, 20), decision="seller")
    assert kinds_for(decided, TODAY) == ("appeal",)
    assert kinds_for(with_facts(decided, decision="full_refund"), TODAY) == ()
    # A Trade Rules violation can still be reported once the dispute's own windows have closed.
    pressed = with_facts(base, seller_reply="Please cancel the dispute, we will send a new one.")
    assert kinds_for(pressed, LAST_OPEN + timedelta(5)) == ("report",)
    assert "a report against the seller" in stage_of(pressed, LAST_OPEN + timedelta(5)).headline


def test_the_headline_names_the_deadline_that_binds(base):
    defective = with_facts(base, reason="defective")  # delivered 30 October: hidden defect until 14 November
    assert "last day to report a hidden defect, Sat 14 November 2026 (3 days left)" in \
        stage_of(defective, date(2026, 11, 11)).headline
    assert "last day to open a dispute, Wed 16 December 2026" in stage_of(defective, TODAY).headline
    missing = with_facts(base, order={"delivered": None}, reason="not_received")
    assert "buyer protection ends, Tue 1 December 2026 (6 days left)" in stage_of(missing, TODAY).headline
    decided = with_facts(base, opened=date(2026, 11, 2), escalated_closed=date(2026, 11, 20), decision="seller")
    assert "last day to appeal an escalated-dispute decision, Fri 27 November 2026 (2 days left)" in \
        stage_of(decided, TODAY).headline


def test_seller_message_wording_follows_the_stage(base):
    open_dispute = with_facts(base, opened=date(2026, 11, 20))
    text = compose(open_dispute, "seller", today=TODAY)[0].text
    assert "for which I opened a dispute on 20 November 2026" in text and "before opening a dispute" not in text
    assert "agree to a full refund of USD 20.00 in the dispute" in text
    assert "before opening a dispute" in compose(base, "seller", today=TODAY)[0].text
    # Protection ended on 1 December: no request to extend it, and the dispute comes by the last day.
    missing = with_facts(base, order={"delivered": None}, reason="not_received")
    late = compose(missing, "seller", today=date(2026, 12, 5))[0].text
    assert "extend" not in late and "The buyer protection for this order ended on 1 December." in late
    assert "otherwise I will open a dispute by 16 December." in late
    assert "extend the buyer protection until it arrives?" in compose(missing, "seller", today=TODAY)[0].text


def test_a_kind_for_another_stage_is_written_with_a_warning(base):
    texts, warnings, stage = compose_texts(base, ("appeal",), today=TODAY)
    assert [t.kind for t in texts] == ["appeal"] and stage.key == TALKING
    assert any("the appeal text is for another stage (decided, appeal window open)" in w
               and "talking to the seller" in w for w in warnings)


def test_complaint_prints_the_stage_and_deadline_first(make_case, capsys):
    root = make_case(BASE_TOML, name="first")
    assert main(["complaint", str(root), "--today", "2026-11-25"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Stage: talking to the seller. Deadline that binds: last day to open a dispute")
    assert out[1].startswith("Deadlines: ")
    assert main(["deadlines", str(root), "--today", "2026-11-25", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stage"]["key"] == TALKING
    assert all("(0" not in d["rule"] for d in data["deadlines"])  # plain rules; the articles apart:
    assert next(d for d in data["deadlines"] if d["key"] == "last_open")["source"] == "000, 004"


def test_new_fields_are_validated_all_at_once(make_case):
    toml = (BASE_TOML.replace('reason = "damaged"', 'reason = "expired"')
            .replace('seller_contacted = 2026-11-01', 'seller_contacted = 2026-11-01\nseller_replied = 2026-10-20\n'
                     'opened = 2026-11-10\nescalated = 2026-11-05\ndecision = "maybe"\ndecision_amount = 5'))
    toml += "\n[facts]\nexpiry_date = 2026-11-15\npromised_delivery_by = 2026-10-20\n"
    with pytest.raises(CaseError) as info:
        load_case(make_case(toml, name="fields"))
    assert "dispute.decision: unknown value 'maybe'" in "\n".join(info.value.problems)
    toml = toml.replace('decision = "maybe"', 'decision = "seller"')
    with pytest.raises(CaseError) as info:
        load_case(make_case(toml, name="fields2"))
    problems = "\n".join(info.value.problems)
    for expected in ("dispute.escalated: 2026-11-05 is before dispute.opened", "facts.promised_delivery_by: is not "
                     "used for the reason 'expired'", "dispute.seller_replied: is before",
                     "dispute.decision: needs dispute.escalated_closed", "dispute.decision_amount: is the partial",
                     "facts.expiry_date: 2026-11-15 is after order.delivered"):
        assert expected in problems, problems


def test_new_fields_reach_the_texts(base):
    expired = with_facts(base, reason="expired", facts={"expiry_date": date(2026, 10, 15)})
    assert "delivered on 30 October 2026, was already past its expiry date of 15 October on arrival." in \
        compose(expired, "dispute", today=TODAY)[0].text
    late = with_facts(base, reason="late_delivery", facts={"promised_delivery_by": date(2026, 10, 20)})
    assert "only delivered on 30 October, 10 days later than the promised delivery date of 20 October." in \
        compose(late, "dispute", today=TODAY)[0].text
    decided = with_facts(base, opened=date(2026, 11, 2), escalated_closed=date(2026, 11, 20),
                         decision="partial_refund", decision_amount=Decimal("4.00"))
    text = compose(decided, "appeal", today=TODAY)[0].text
    assert text.startswith("I am appealing the decision of 20 November 2026 on the escalated dispute for order")
    assert "The decision granted me only USD 4.00 of the USD 20.00 I paid." in text


def test_build_writes_only_the_stage_texts(make_case):
    from evidence_kit import api
    from evidence_kit.model.options import BuildOptions

    decided = BASE_TOML.replace('seller_contacted = 2026-11-01', 'seller_contacted = 2026-11-01\nopened = 2026-11-02\n'
                                'escalated_closed = 2026-11-20\ndecision = "seller"')
    case = load_case(make_case(decided, name="built-stage"), today=TODAY)
    case = replace(case, media=replace(case.media, photos=()))
    result = api.build(case, options=BuildOptions(today=TODAY), reuse_unchanged=False).result
    kinds = sorted(r.info["kind"] for r in result.manifest.outputs if r.role == "complaint")
    assert kinds == ["appeal"]
    assert result.manifest.sections["deadlines"]["stage"]["key"] == APPEAL_OPEN
