"""A decision priced by adjudication is what the claim aggregate accepts.

The two services share only the event's JSON, so the test goes through it.
"""

import json
from datetime import UTC, date, datetime

from dataclasses import replace
from types import MappingProxyType

from services.adjudication.domain.coverage import CoveragePeriod, MemberCoverage
from services.adjudication.domain.engine import DecisionInputs, Ledger, Reference, decide
from services.claims.domain import Claim, ClaimStatus, ClaimSubmission

MEMBER = MemberCoverage("M-0001", date(1980, 5, 1), (CoveragePeriod("silver-hmo-2026", date(2026, 1, 1), None),), 1)
RECEIVED_AT = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
ADJUDICATED_AT = datetime(2026, 3, 10, 14, 31, tzinfo=UTC)

BODY = {
    "frequency_code": "1",
    "member_id": "M-0001",
    "patient_date_of_birth": "1980-05-01",
    "billing_provider": {"npi": "1234567893", "tin": "123456789"},
    "rendering_provider_npi": "1245319599",
    "diagnosis_codes": ["E11.9"],
    "lines": [
        {"procedure_code": code, "modifiers": [], "units": units, "charge_amount": charge,
         "date_of_service": "2026-03-01", "place_of_service": "11", "diagnosis_pointers": [1]}
        for code, units, charge in [("99214", 1, "250.00"), ("36415", 1, "3.00"), ("97110", 2, "80.00")]
    ],
}


def price_claim(payload, reference=None, *, adjudicated_at, member):
    inputs = DecisionInputs(member=member, contracted_plan_ids=frozenset({"silver-hmo-2026"}), authorizations=(),
                            ledger=Ledger.empty(member.member_id))
    return decide(payload, inputs, reference or Reference.load(), claim_version=1, adjudicated_at=adjudicated_at)


def over_the_wire(data):
    return json.loads(json.dumps(data))


def received():
    events = Claim.receive("C-1", ClaimSubmission.model_validate(BODY), organization_id="ORG-1",
                           received_at=RECEIVED_AT)
    return Claim.from_events(events), over_the_wire(events[0].data)


def test_priced_claim_is_processed():
    claim, payload = received()
    decision = price_claim(payload, adjudicated_at=ADJUDICATED_AT, member=MEMBER)
    (event,) = claim.apply_decision(over_the_wire(decision.to_data()))
    claim.apply(event)
    assert claim.status is ClaimStatus.PROCESSED
    assert claim.adjudication.totals.model_dump(mode="json") == decision.to_data()["totals"]
    assert event.data["lines"] == decision.to_data()["lines"]


def test_replayed_claim_received_yields_a_decision_the_claim_ignores():
    claim, payload = received()
    first = price_claim(payload, adjudicated_at=ADJUDICATED_AT, member=MEMBER)
    claim.apply(claim.apply_decision(first)[0])
    replay = price_claim(payload, adjudicated_at=datetime(2026, 3, 11, tzinfo=UTC),
                          member=MEMBER)
    assert claim.apply_decision(replay) == []
    assert claim.version == 2


def test_claim_with_only_uncovered_services_is_denied():
    body = {**BODY, "lines": [{**BODY["lines"][0], "procedure_code": "99215"}]}
    claim = Claim.from_events(Claim.receive("C-2", ClaimSubmission.model_validate(body), organization_id="ORG-1",
                                            received_at=RECEIVED_AT))
    reference = Reference.load()
    schedule = reference.fee_schedule
    schedule = replace(schedule, rates=MappingProxyType({k: v for k, v in schedule.rates.items() if k != "99215"}))
    decision = price_claim(over_the_wire(claim.received.to_data()), replace(reference, fee_schedule=schedule),
                           adjudicated_at=ADJUDICATED_AT, member=MEMBER)
    claim.apply(claim.apply_decision(decision)[0])
    assert claim.status is ClaimStatus.DENIED
    assert claim.timeline[-1].reason_codes == ("CO-204",)
