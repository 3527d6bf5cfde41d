"""Pricing: lesser of charge and fee schedule; the numbers always add up."""

import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.adjudication.domain import (
    CoveragePeriod,
    FeeSchedule,
    MemberCoverage,
    adjudication_id_for,
    load_fee_schedule,
    price_claim,
)

AT = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SCHEDULE = FeeSchedule.from_dict({
    "version": "test", "effective_from": "2026-01-01", "effective_to": "2026-12-31",
    "out_of_network_percent_of_in_network": "70",
    "rates": [
        {"code": "99213", "in_network": "117.00"},
        {"code": "36415", "in_network": "3.90"},
        {"code": "97110", "in_network": "37.70"},
        {"code": "80053", "in_network": "13.73"},
    ],
})


# Covered all year: these tests are about pricing; coverage has its own (test_coverage.py).
MEMBER = MemberCoverage("M-1", date(1980, 2, 3), (CoveragePeriod("silver-hmo-2026", date(2026, 1, 1), None),), 1)


def line(number, code, charge, units=1, **extra):
    return {"line_number": number, "procedure_code": code, "units": units, "charge_amount": charge,
            "date_of_service": "2026-03-01", "place_of_service": "11", "modifiers": [],
            "diagnosis_pointers": [1], **extra}


def received(*lines, claim_id="C-1"):
    # Shaped like the claims service's claim.received payload, extra fields included.
    return {"claim_id": claim_id, "organization_id": "ORG-1", "member_id": "M-1",
            "patient_date_of_birth": "1980-02-03", "received_at": "2026-03-10T14:30:00Z",
            "total_charge": "0.00", "lines": list(lines)}


def price(*lines, **kwargs):
    kwargs.setdefault("adjudicated_at", AT)
    kwargs.setdefault("member", MEMBER)
    return price_claim(received(*lines), SCHEDULE, **kwargs)


@pytest.mark.parametrize(
    ("code", "units", "charge", "allowed", "co45"),
    [
        ("99213", 1, "150.00", "117.00", "33.00"),  # charge above the schedule
        ("99213", 1, "117.00", "117.00", None),  # exactly the schedule
        ("99213", 1, "100.00", "100.00", None),  # lesser of: the charge
        ("97110", 3, "150.00", "113.10", "36.90"),  # schedule x units
        ("97110", 4, "100.00", "100.00", None),
        ("36415", 1, "0.01", "0.01", None),
    ],
)
def test_lesser_of_charge_and_schedule(code, units, charge, allowed, co45):
    decision = price(line(1, code, charge, units))
    (priced,) = decision.lines
    assert priced.allowed_amount == Decimal(allowed)
    assert priced.paid_amount == Decimal(allowed)
    assert priced.patient_responsibility == priced.deductible == priced.copay == priced.coinsurance == 0
    expected = [("CO", "45", Decimal(co45))] if co45 else []
    assert [(a.group, a.carc, a.amount) for a in priced.adjustments] == expected
    assert decision.outcome == "processed"


def test_code_off_the_schedule_is_denied_not_covered():
    decision = price(line(1, "99213", "150.00"), line(2, "E0601", "400.00"))
    covered, refused = decision.lines
    assert covered.paid_amount == Decimal("117.00")
    assert (refused.allowed_amount, refused.paid_amount) == (0, 0)
    assert [(a.group, a.carc, a.amount) for a in refused.adjustments] == [("CO", "204", Decimal("400.00"))]
    assert refused.denied and not covered.denied
    assert decision.outcome == "processed"  # something is paid


def test_claim_is_denied_when_every_line_is_denied():
    decision = price(line(1, "E0601", "400.00"), line(2, "G0438", "200.00"))
    assert decision.outcome == "denied"
    assert decision.totals.paid == 0
    assert all(priced.denied for priced in decision.lines)


def test_out_of_network_uses_the_lower_rate():
    (priced,) = price(line(1, "99213", "150.00"), in_network=False).lines
    assert priced.allowed_amount == Decimal("81.90")
    assert priced.adjustments[0].amount == Decimal("68.10")


def test_out_of_network_rounds_per_unit_half_up():
    schedule = FeeSchedule.from_dict({
        "version": "t", "effective_from": "2026-01-01", "effective_to": "2026-12-31",
        "out_of_network_percent_of_in_network": "70", "rates": [{"code": "80053", "in_network": "10.05"}],
    })
    decision = price_claim(received(line(1, "80053", "100.00", units=3)), schedule, adjudicated_at=AT,
                           in_network=False, member=MEMBER)
    assert decision.lines[0].allowed_amount == Decimal("21.12")  # 7.035 -> 7.04, x 3


def test_totals_and_money_format():
    decision = price(line(1, "99213", "150.00"), line(2, "36415", "10.00"), line(3, "E0601", "5.50"))
    data = decision.to_data()
    assert data["totals"] == {"charge": "165.50", "allowed": "120.90", "paid": "120.90",
                              "patient_responsibility": "0.00"}
    assert data["lines"][1]["adjustments"] == [{"group": "CO", "carc": "45", "amount": "6.10"}]
    assert data["adjudicated_at"] == "2026-03-10T15:00:00Z"
    assert data["claim_version"] == 1


def test_adjudication_id_is_deterministic():
    first = price(line(1, "99213", "150.00"))
    again = price_claim(received(line(1, "99213", "150.00")), SCHEDULE, adjudicated_at=AT + timedelta(hours=1),
                          member=MEMBER)
    assert first.adjudication_id == again.adjudication_id == adjudication_id_for("C-1", 1)
    assert price(line(1, "99213", "150.00"), claim_version=3).adjudication_id == adjudication_id_for("C-1", 3)
    assert adjudication_id_for("C-1", 1) != adjudication_id_for("C-1", 3)
    assert adjudication_id_for("C-1", 1) != adjudication_id_for("C-2", 1)


def test_adjudicated_at_is_stored_in_utc_and_must_be_aware():
    local = datetime(2026, 3, 10, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert price(line(1, "99213", "1.00"), adjudicated_at=local).adjudicated_at == AT
    with pytest.raises(ValueError):
        price(line(1, "99213", "1.00"), adjudicated_at=datetime(2026, 3, 10))


def test_the_seeded_schedule_prices_every_known_code():
    schedule = load_fee_schedule()
    lines = [line(n, code, "99999.00") for n, code in enumerate(sorted(schedule.in_network), start=1)]
    decision = price_claim(received(*lines), schedule, adjudicated_at=AT, member=MEMBER)
    assert all(priced.paid_amount > 0 for priced in decision.lines)


def assert_adds_up(decision):
    for priced in decision.lines:
        contractual = sum((a.amount for a in priced.adjustments if a.group in ("CO", "OA")), Decimal("0.00"))
        patient = sum((a.amount for a in priced.adjustments if a.group == "PR"), Decimal("0.00"))
        assert priced.charge_amount == priced.paid_amount + priced.patient_responsibility + contractual
        assert priced.patient_responsibility == patient
        assert priced.allowed_amount == priced.paid_amount + priced.patient_responsibility
        assert all(a.amount > 0 for a in priced.adjustments)
        for amount in (priced.allowed_amount, priced.paid_amount, contractual):
            assert amount >= 0 and amount == amount.quantize(Decimal("0.01"))
    totals = decision.totals
    assert totals.charge == sum(p.charge_amount for p in decision.lines)
    assert totals.allowed == sum(p.allowed_amount for p in decision.lines)
    assert totals.paid == sum(p.paid_amount for p in decision.lines)
    assert totals.patient_responsibility == sum(p.patient_responsibility for p in decision.lines)
    assert totals.charge == totals.paid + totals.patient_responsibility + sum(
        a.amount for p in decision.lines for a in p.adjustments if a.group in ("CO", "OA"))


@pytest.mark.parametrize("seed", range(200))
def test_the_numbers_always_add_up(seed):
    rng = random.Random(seed)
    codes = [*SCHEDULE.in_network, "E0601", "G0438"]
    lines = [
        line(n, rng.choice(codes), f"{rng.randint(1, 50000) / 100:.2f}", units=rng.randint(1, 12))
        for n in range(1, rng.randint(1, 50) + 1)
    ]
    decision = price(*lines, in_network=rng.random() < 0.7)
    assert_adds_up(decision)
    assert [p.line_number for p in decision.lines] == list(range(1, len(lines) + 1))
    assert (decision.outcome == "denied") is all(p.denied for p in decision.lines)
