"""Builders for claims and members that the adjudication unit tests decide through the pure engine."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.adjudication.domain.coverage import CoveragePeriod, MemberCoverage
from services.adjudication.domain.engine import DecisionInputs, Ledger, Reference, decide

AT = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
DOB = date(1980, 2, 3)
MEMBER_ID = "M0000000001"
ORG = "ORG-1"
NPI = "1234567893"


def member(*periods, dob=DOB, plan="silver-hmo-2026", family_id=None, member_id=MEMBER_ID):
    periods = periods or ((date(2026, 1, 1), None),)
    return MemberCoverage(member_id, dob, tuple(CoveragePeriod(plan, s, e) for s, e in periods), 1, family_id=family_id)


def line(number, code, charge, dos="2026-03-02", *, units=1, modifiers=(), pos="11"):
    return {"line_number": number, "procedure_code": code, "units": units, "charge_amount": charge,
            "date_of_service": dos, "place_of_service": pos, "modifiers": list(modifiers), "diagnosis_pointers": [1]}


def received(*lines, dob="1980-02-03", claim_id="C-1", received_at="2026-06-10T14:30:00Z", member_id=MEMBER_ID,
             frequency_code="1", original_claim_id=None, prior_authorization_id=None):
    claim = {"claim_id": claim_id, "organization_id": ORG, "member_id": member_id, "patient_date_of_birth": dob,
             "received_at": received_at, "total_charge": "0.00", "fingerprint": "f", "frequency_code": frequency_code,
             "billing_provider": {"npi": NPI, "tin": "123456789"}, "rendering_provider_npi": NPI,
             "diagnosis_codes": ["E11.9"], "lines": list(lines)}
    if original_claim_id:
        claim["original_claim_id"] = original_claim_id
    if prior_authorization_id:
        claim["prior_authorization_id"] = prior_authorization_id
    return claim


def decide_claim(claim, copy, *, ledger=None, contracted=None, authorizations=(), documentation_received=False,
                 reference=None, version=1):
    plans = contracted if contracted is not None else frozenset({p.plan_id for p in copy.periods} if copy else ())
    inputs = DecisionInputs(member=copy, contracted_plan_ids=frozenset(plans), authorizations=tuple(authorizations),
                            ledger=ledger or Ledger.empty(copy.policy_id if copy else MEMBER_ID),
                            documentation_received=documentation_received)
    return decide(claim, inputs, reference or Reference.load(), claim_version=version, adjudicated_at=AT)
