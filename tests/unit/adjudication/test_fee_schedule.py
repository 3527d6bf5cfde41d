import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.adjudication.domain.fee_schedule import FeeSchedule, load_fee_schedule
from services.adjudication.domain.pricing import percent_of
from services.adjudication.domain.reference import Reference

REFDATA = Path(__file__).resolve().parents[3] / "refdata"


def procedure_codes():
    return [entry["code"] for entry in json.loads((REFDATA / "procedure_codes.json").read_text())["codes"]]


def test_every_known_procedure_code_but_unlisted_and_unpriced_ones_has_a_rate():
    # Except the unlisted codes (priced by report) and the codes the schedule names as never paid separately.
    schedule = load_fee_schedule()
    data = json.loads((REFDATA / "fee_schedule.json").read_text())
    policy = json.loads((REFDATA / "adjudication_policy.json").read_text())
    unpriced = {entry["code"] for entry in data["unpriced_codes"]}
    unlisted = set(policy["unlisted_procedure_codes"])
    assert unpriced and unlisted and not unpriced & unlisted
    assert unlisted == Reference.load().policy.unlisted_procedure_codes
    assert set(schedule.rates) == set(procedure_codes()) - unpriced - unlisted
    assert unpriced | unlisted <= set(procedure_codes())


def test_indicators_use_the_medicare_values():
    data = json.loads((REFDATA / "fee_schedule.json").read_text())
    assert data["indicators_source"]
    for rate in data["rates"]:
        assert rate.get("pctc", "0") in {"0", "1", "2", "3", "4"}, rate["code"]
        assert rate.get("mult_proc", "0") in {"0", "2", "3"}, rate["code"]
        assert rate.get("bilat_surg", "0") in {"0", "1"}, rate["code"]
        # a professional share exactly when the code splits into 26 and TC
        assert ("professional_percent" in rate) is (rate.get("pctc") == "1"), rate["code"]
        if "professional_percent" in rate:
            share = Decimal(rate["professional_percent"])
            assert 0 < share < 100 and share == share.quantize(Decimal("0.01")), rate["code"]


def test_rates_are_positive_cents():
    for code, rate in load_fee_schedule().rates.items():
        assert rate.amount > 0, code
        assert rate.amount == rate.amount.quantize(Decimal("0.01")), code


def test_rates_are_the_medicare_reference_times_1_3():
    data = json.loads((REFDATA / "fee_schedule.json").read_text())
    multiplier = Decimal(data["in_network_multiplier_of_medicare"])
    assert multiplier == Decimal("1.30")
    for rate in data["rates"]:
        expected = (Decimal(rate["medicare_reference"]) * multiplier).quantize(Decimal("0.01"))
        assert Decimal(rate["in_network"]) == expected, rate["code"]


@pytest.mark.parametrize(
    ("code", "low", "high"),
    [("99213", 90, 150), ("99214", 130, 210), ("36415", 2, 10), ("27447", 1000, 2500), ("80053", 8, 30)],
)
def test_rates_are_plausible(code, low, high):
    assert low <= load_fee_schedule().rate(code).amount <= high


def test_schedule_covers_2026():
    schedule = load_fee_schedule()
    assert (schedule.effective_from.isoformat(), schedule.effective_to.isoformat()) == ("2026-01-01", "2026-12-31")


def test_out_of_network_is_a_share_of_in_network():
    schedule = load_fee_schedule()
    assert schedule.out_of_network_percent == Decimal("70")
    assert percent_of(schedule.rate("99213").amount, schedule.out_of_network_percent) == Decimal("81.90")  # 70% of 117.00
    assert percent_of(schedule.rate("83036").amount, schedule.out_of_network_percent) == Decimal("8.83")  # 8.834 rounds down


def test_unknown_code_has_no_rate():
    assert load_fee_schedule().rate("99499") is None


def test_loaded_once():
    assert load_fee_schedule() is load_fee_schedule()


def test_from_dict():
    schedule = FeeSchedule.from_dict({
        "version": "t", "effective_from": "2026-01-01", "effective_to": "2026-12-31",
        "out_of_network_percent_of_in_network": "50", "rates": [{"code": "99213", "in_network": "100.00"}],
    })
    assert schedule.out_of_network_percent == Decimal("50")
    assert schedule.rate("99213").amount == Decimal("100.00")
    assert schedule.rate("99213").mult_proc == "0" and not schedule.rate("99213").splits_components
