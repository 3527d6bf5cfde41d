"""The claim engine: every line of a claim through the rules of docs/adjudication-rules.md.

decide() is pure: the claim, what adjudication knows (coverage, network, approved
authorizations, the policy's ledger) and the reference data in; the decision out,
with the reason for every cent. apply_decision() (ledger.py) is what the decision
does to the ledger. The adapter stores both in one atomic write.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from contracts.adjudicated import AdjudicatedLine, Adjustment, Totals
from contracts.events.adjudication import AdjudicationDecision, PendRequest
from contracts.events.claims import ClaimReceived, ReceivedLine
from refdata.plans import Plan, UnknownPlanError, benefit_year

from .authorization import Authorization, find_authorization
from .benefits import Share, member_share
from .coverage import MemberCoverage, coverage_denial
from .ledger import DENIAL_CARCS, Balance, Ledger, apply_decision, apply_expiry, apply_void, line_key  # noqa: F401 - re-exported
from .pricing import MULTIPLE_PROCEDURE_PERCENT, Scheduled, by_report, multiple_procedure_ranks, percent_of, scheduled_amount
from .reference import Reference

__all__ = [
    "Authorization", "DecisionInputs", "Ledger", "Reference", "adjudication_id_for", "apply_decision",
    "apply_expiry", "apply_void", "decide",
]

ZERO = Decimal("0.00")

CARC_DUPLICATE = "18"
CARC_TIMELY_FILING = "29"
CARC_BUNDLED = "97"
CARC_NO_AUTHORIZATION = "197"
CARC_NOT_COVERED = "204"
CARC_OUT_OF_NETWORK = "242"
CARC_MISSING_INFORMATION = "16"
CARC_EXCEEDS_FEE_SCHEDULE = "45"
CARC_DEDUCTIBLE, CARC_COINSURANCE, CARC_COPAY = "1", "2", "3"
RARC_AUTHORIZATION_MISMATCH = "N54"
RARC_UNLISTED = "N350"
RARC_MEDICAL_RECORD = "M127"

EMERGENCY_CATEGORY = "emergency_room"
CLOSED_NETWORKS = frozenset({"HMO", "EPO"})

_ADJUDICATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provider-platform:adjudication")


def adjudication_id_for(claim_id: str, claim_version: int) -> str:
    """Deterministic per (claim, version): a replayed event is decided under the same id."""
    return str(uuid.uuid5(_ADJUDICATION_NAMESPACE, f"{claim_id}:{claim_version}"))


@dataclass(frozen=True)
class DecisionInputs:
    member: MemberCoverage | None
    contracted_plan_ids: frozenset[str]
    """The plans the claim's organisation is in network for."""
    authorizations: tuple[Authorization, ...]
    """The member's approved authorizations."""
    ledger: Ledger
    documentation_received: bool = False
    """An info request of this claim was answered: pend rules are satisfied."""


@dataclass
class _Line:
    """A line on its way through the rules: denied as soon as a rule denies it."""

    source: ReceivedLine
    plan: Plan | None = None
    category: str | None = None
    denial: tuple[str, str | None] | None = None
    out_of_network_rate: bool = False
    coinsurance_percent: int | None = None
    authorization_id: str | None = None
    notes: list[str] = field(default_factory=list)
    scheduled: Scheduled | None = None
    unlisted: bool = False
    pend_rarc: str | None = None

    def deny(self, carc: str, note: str, rarc: str | None = None) -> None:
        self.denial = (carc, rarc)
        self.notes.append(note)

    @property
    def standing(self) -> bool:
        return self.denial is None


def decide(
    claim_payload: Mapping[str, Any], inputs: DecisionInputs, reference: Reference, *,
    claim_version: int, adjudicated_at: datetime,
) -> AdjudicationDecision:
    if adjudicated_at.tzinfo is None:
        raise ValueError("adjudicated_at must be timezone-aware")
    claim = ClaimReceived.model_validate(claim_payload)
    # A replacement decides on the ledger without its original, and a new decision of
    # the same claim without its earlier one: their effects are given back first.
    ledger = inputs.ledger.without_claims(
        [claim.claim_id, claim.original_claim_id if claim.frequency_code == "7" else None]
    )
    lines = [_Line(source) for source in claim.lines]
    _coverage(lines, claim, inputs.member, reference)
    _timely_filing_and_duplicates(lines, claim, ledger, inputs.member)
    _covered_service(lines, reference)
    _network(lines, inputs.contracted_plan_ids, reference)
    _prior_authorization(lines, claim, inputs.authorizations, ledger, reference)
    _bundling(lines, reference)
    pend = None if inputs.documentation_received else _pend(lines, reference)
    adjudication_id = adjudication_id_for(claim.claim_id, claim_version)
    if pend is not None:
        decided = [_pended(line) for line in lines]
    else:
        _price(lines, reference, documentation_received=inputs.documentation_received)
        decided = _apply_benefits(lines, ledger, inputs.member)
    outcome = "info_requested" if pend else ("denied" if all(_is_denial(line) for line in decided) else "processed")
    return AdjudicationDecision(
        adjudication_id=adjudication_id, claim_id=claim.claim_id, claim_version=claim_version, outcome=outcome,
        adjudicated_at=adjudicated_at.astimezone(UTC), lines=decided, totals=_totals(decided), info_request=pend,
        reverses_claim_id=claim.original_claim_id if claim.frequency_code == "7" else None,
    )


# ----------------------------------------------------------------- the rules


def _coverage(lines: list[_Line], claim: ClaimReceived, member: MemberCoverage | None, reference: Reference) -> None:
    for line in lines:
        day = line.source.date_of_service
        carc = coverage_denial(member, date_of_birth=claim.patient_date_of_birth, date_of_service=day)
        if carc is not None:
            line.deny(carc, {"31": "patient not identified as a member",
                             "26": "service before the coverage start",
                             "27": "service after the coverage ended"}[carc])
            continue
        assert member is not None
        try:
            line.plan = reference.catalogue.plan(member.plan_on(day) or "")
        except UnknownPlanError:
            line.deny("31", "the member's plan is unknown to adjudication")
            continue
        line.category = reference.catalogue.category_of(line.source.procedure_code)


def _timely_filing_and_duplicates(
    lines: list[_Line], claim: ClaimReceived, ledger: Ledger, member: MemberCoverage | None
) -> None:
    received_on = claim.received_at.astimezone(UTC).date()
    member_id = member.member_id if member else claim.member_id
    seen = set(ledger.line_keys(member_id))
    claim_data = claim.to_data()
    for line in lines:
        if not line.standing:
            continue
        assert line.plan is not None
        days = (received_on - line.source.date_of_service).days
        if days > line.plan.timely_filing_days:
            line.deny(CARC_TIMELY_FILING, f"received {days} days after the service; the filing limit is "
                                          f"{line.plan.timely_filing_days} days")
            continue
        key = line_key(member_id, claim_data, line.source.to_data())
        if key in seen:
            line.deny(CARC_DUPLICATE, "exact duplicate of a line already adjudicated")
            continue
        seen.add(key)


def _covered_service(lines: list[_Line], reference: Reference) -> None:
    for line in _standing(lines):
        code = line.source.procedure_code
        assert line.plan is not None
        if code in line.plan.excluded_procedure_codes:
            line.deny(CARC_NOT_COVERED, f"{code} is excluded from the plan's benefits")
        elif code in reference.policy.unlisted_procedure_codes:
            line.unlisted = True
        elif reference.fee_schedule.rate(code) is None or line.category is None:
            line.deny(CARC_NOT_COVERED, f"{code} is not a covered service under the fee schedule")


def _network(lines: list[_Line], contracted: frozenset[str], reference: Reference) -> None:
    for line in _standing(lines):
        plan = line.plan
        assert plan is not None
        if plan.id in contracted:
            line.notes.append(f"in network for plan {plan.id}")
            continue
        emergency = (line.category == EMERGENCY_CATEGORY
                     or line.source.place_of_service in reference.policy.emergency_places_of_service)
        if plan.network_type in CLOSED_NETWORKS:
            if emergency:
                line.notes.append("emergency services out of network: paid at the in-network rate and cost sharing")
            else:
                line.deny(CARC_OUT_OF_NETWORK, f"out of network: {plan.network_type} plan {plan.id} covers "
                                               "in-network services only")
            continue
        if emergency:
            line.notes.append("emergency services out of network: paid at the in-network rate and cost sharing")
        elif line.category is not None and plan.covers_out_of_network(line.category):
            line.out_of_network_rate = True
            line.coinsurance_percent = plan.out_of_network.coinsurance_percent
            line.notes.append(f"out of network for plan {plan.id}: the out-of-network rate applies")
        else:
            line.deny(CARC_OUT_OF_NETWORK, f"out of network: plan {plan.id} does not cover this service "
                                           "out of network")


def _prior_authorization(
    lines: list[_Line], claim: ClaimReceived, authorizations: Sequence[Authorization], ledger: Ledger,
    reference: Reference,
) -> None:
    used = ledger.authorization_used()
    for line in _standing(lines):
        code = line.source.procedure_code
        assert line.plan is not None
        if not line.plan.requires_prior_authorization(code):
            continue
        match = find_authorization(
            authorizations, code=code, organization_id=claim.organization_id, day=line.source.date_of_service,
            units=line.source.units, used=used, named_id=claim.prior_authorization_id,
        )
        if match.authorization is None:
            if match.mismatch:
                line.deny(CARC_NO_AUTHORIZATION, "prior authorization required: the authorization on file does "
                                                 "not match the code, provider, dates or units",
                          RARC_AUTHORIZATION_MISMATCH)
            else:
                line.deny(CARC_NO_AUTHORIZATION, "prior authorization required and none is on file")
            continue
        authorization = match.authorization
        used[authorization.authorization_id] = used.get(authorization.authorization_id, 0) + line.source.units
        line.authorization_id = authorization.authorization_id
        left = authorization.approved_units - used[authorization.authorization_id]
        line.notes.append(f"authorization {authorization.authorization_id} used: {line.source.units} unit(s), "
                          f"{left} left")


def _bundling(lines: list[_Line], reference: Reference) -> None:
    standing = list(_standing(lines))
    allowed_modifiers = reference.policy.bundling_modifiers
    bundled: list[tuple[_Line, str]] = []
    for line in standing:
        for pair in reference.pairs_with_column2(line.source.procedure_code):
            for other in standing:
                if other is line or other.source.procedure_code != pair.column1:
                    continue
                if other.source.date_of_service != line.source.date_of_service:
                    continue
                modifiers = set(line.source.modifiers) | set(other.source.modifiers)
                if pair.modifier_indicator == "1" and modifiers & allowed_modifiers:
                    line.notes.append(f"billed with {pair.column1} with a modifier that allows it separately")
                    continue
                bundled.append((line, pair.column1))
                break
    # Decided on the lines standing before bundling, so a pair's column-1 line counts even
    # when it is itself the column-2 code of another pair.
    for line, column1 in bundled:
        if line.standing:
            line.deny(CARC_BUNDLED, f"bundled into {column1} billed the same day (NCCI)")


def _pend(lines: list[_Line], reference: Reference) -> PendRequest | None:
    threshold = reference.policy.pend_charge_threshold
    for line in _standing(lines):
        if line.unlisted:
            line.pend_rarc = RARC_UNLISTED
        elif line.source.charge_amount > threshold:
            line.pend_rarc = RARC_MEDICAL_RECORD
    pending = [line for line in lines if line.pend_rarc]
    if not pending:
        return None
    rarc = RARC_UNLISTED if any(line.pend_rarc == RARC_UNLISTED for line in pending) else RARC_MEDICAL_RECORD
    message = ("Send a description of the unlisted procedure and the operative or procedure report."
               if rarc == RARC_UNLISTED else
               f"Send the medical record for the service: its charge is above {threshold}.")
    return PendRequest(carc=CARC_MISSING_INFORMATION, rarc=rarc,
                       line_numbers=[line.source.line_number for line in pending], message=message)


def _price(lines: list[_Line], reference: Reference, *, documentation_received: bool) -> None:
    schedule = reference.fee_schedule
    for line in _standing(lines):
        source = line.source
        if line.unlisted:
            line.scheduled = by_report(source.charge_amount, reference.policy.unlisted_by_report_percent)
            continue
        rate = schedule.rate(source.procedure_code)
        assert rate is not None
        line.scheduled = scheduled_amount(
            rate, modifiers=source.modifiers, units=source.units, schedule_version=schedule.version,
            out_of_network_percent=schedule.out_of_network_percent if line.out_of_network_rate else None,
        )
    by_day: dict[date, list[_Line]] = {}
    for line in _standing(lines):
        rate = schedule.rate(line.source.procedure_code)
        if rate is not None and rate.mult_proc == "2" and not line.unlisted:
            by_day.setdefault(line.source.date_of_service, []).append(line)
    for same_day in by_day.values():
        if len(same_day) < 2:
            continue
        ranks = multiple_procedure_ranks([(line.source.line_number, line.scheduled.amount) for line in same_day])
        for line in same_day:
            assert line.scheduled is not None
            if ranks[line.source.line_number] == 1:
                line.notes.append("multiple procedures: the primary procedure, paid at 100%")
                continue
            reduced = percent_of(line.scheduled.amount, MULTIPLE_PROCEDURE_PERCENT)
            line.scheduled = Scheduled(reduced, (*line.scheduled.explanation,
                                                 f"multiple procedures: secondary procedure at 50% = {reduced}"))


def _apply_benefits(lines: list[_Line], ledger: Ledger, member: MemberCoverage | None) -> list[AdjudicatedLine]:
    running: dict[int, Balance] = {}
    running_family: dict[int, Balance] = {}
    decided = []
    for line in lines:
        if not line.standing:
            decided.append(_denied(line))
            continue
        assert line.plan is not None and line.scheduled is not None and member is not None
        year = benefit_year(line.source.date_of_service)
        if year not in running:
            running[year] = ledger.member_balance(year, member.member_id)
            running_family[year] = ledger.family_balance(year)
        charge = line.source.charge_amount
        allowed = min(charge, line.scheduled.amount)
        category = line.category or "specialist"
        share = member_share(
            line.plan, category, allowed, member=running[year],
            family=running_family[year] if member.family_id else None,
            coinsurance_percent=line.coinsurance_percent,
        )
        running[year] = running[year] + share.balance
        running_family[year] = running_family[year] + share.balance
        decided.append(_priced(line, allowed, share))
    return decided


# ------------------------------------------------------------ building lines


def _priced(line: _Line, allowed: Decimal, share: Share) -> AdjudicatedLine:
    charge = line.source.charge_amount
    adjustments = []
    explanation = [*line.notes, *line.scheduled.explanation]
    if charge > allowed:
        adjustments.append(Adjustment(group="CO", carc=CARC_EXCEEDS_FEE_SCHEDULE, amount=charge - allowed))
        explanation.append(f"allowed {allowed}: the charge above it ({charge - allowed}) is a contractual adjustment")
    else:
        explanation.append(f"allowed {allowed}: the charge")
    for carc, amount in ((CARC_DEDUCTIBLE, share.deductible), (CARC_COPAY, share.copay),
                         (CARC_COINSURANCE, share.coinsurance)):
        if amount:
            adjustments.append(Adjustment(group="PR", carc=carc, amount=amount))
    explanation.extend(share.explanation)
    paid = allowed - share.total
    explanation.append(f"plan pays {paid}")
    return AdjudicatedLine(
        line_number=line.source.line_number, procedure_code=line.source.procedure_code, charge_amount=charge,
        allowed_amount=allowed, deductible=share.deductible, copay=share.copay, coinsurance=share.coinsurance,
        paid_amount=paid, patient_responsibility=share.total, adjustments=adjustments, explanation=explanation,
        authorization_id=line.authorization_id,
    )


def _denied(line: _Line) -> AdjudicatedLine:
    assert line.denial is not None
    carc, rarc = line.denial
    return _zero_line(line, Adjustment(group="CO", carc=carc, rarc=rarc, amount=line.source.charge_amount),
                      [*line.notes, "denied: nothing is payable and the patient may not be billed"])


def _pended(line: _Line) -> AdjudicatedLine:
    if not line.standing:
        return _denied(line)
    rarc = line.pend_rarc
    note = ("documentation requested for this line" if rarc else
            "waiting for the documentation requested for this claim")
    return _zero_line(line, Adjustment(group="CO", carc=CARC_MISSING_INFORMATION, rarc=rarc,
                                       amount=line.source.charge_amount), [*line.notes, note])


def _zero_line(line: _Line, adjustment: Adjustment, explanation: list[str]) -> AdjudicatedLine:
    return AdjudicatedLine(
        line_number=line.source.line_number, procedure_code=line.source.procedure_code,
        charge_amount=line.source.charge_amount, allowed_amount=ZERO, deductible=ZERO, copay=ZERO,
        coinsurance=ZERO, paid_amount=ZERO, patient_responsibility=ZERO, adjustments=[adjustment],
        explanation=explanation,
    )


def _is_denial(line: AdjudicatedLine) -> bool:
    return not line.paid_amount and any(adjustment.carc in DENIAL_CARCS for adjustment in line.adjustments)


def _totals(lines: Sequence[AdjudicatedLine]) -> Totals:
    return Totals(
        charge=sum((line.charge_amount for line in lines), ZERO),
        allowed=sum((line.allowed_amount for line in lines), ZERO),
        paid=sum((line.paid_amount for line in lines), ZERO),
        patient_responsibility=sum((line.patient_responsibility for line in lines), ZERO),
    )


def _standing(lines: list[_Line]):
    return (line for line in lines if line.standing)
