"""Answering an eligibility check from the member, their accumulators and the catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Set
from decimal import Decimal

from refdata.plans import Catalogue, Plan, benefit_year

from .accumulators import Accumulators, FamilyAccumulators
from .check_request import CheckRequest
from .coverage import CoverageSegment, coverage_on, nearest_coverage
from .member import Member
from .result import (
    Accumulation,
    Benefits,
    CoveragePeriod,
    EligibilityResult,
    PlanSummary,
    ServiceBenefit,
    ServiceNote,
)

NOT_FOUND = EligibilityResult(status="not_found")
ZERO = Decimal("0.00")
EMERGENCY_CATEGORY = "emergency_room"
# Networks that pay nothing out of network but what the law requires (emergency care);
# any other network type pays the categories its plan lists, at out-of-network coinsurance.
CLOSED_NETWORKS = frozenset({"HMO", "EPO"})


def evaluate(
    request: CheckRequest,
    member: Member | None,
    accumulators: Iterable[Accumulators],
    catalogue: Catalogue,
    provider_contracted_plan_ids: Set[str] | None,
    family_accumulators: Iterable[FamilyAccumulators] = (),
) -> EligibilityResult:
    """Assumes `validate_check_request` found no problems.

    accumulators: the member's accumulators for any benefit years; the ones whose
    plan_year is the date of service's calendar year count (a benefit design renews
    every January 1, whatever year the plan's design is dated).
    provider_contracted_plan_ids: the plans the requesting provider is contracted
    for; None when the request names no provider.
    family_accumulators: the member's family's, likewise (only read on a family policy).
    """
    # A wrong birth date must look exactly like an unknown member id, or the check
    # becomes an oracle for who is enrolled.
    if member is None or member.member_id != request.member_id or member.date_of_birth != request.date_of_birth:
        return NOT_FOUND

    segment = coverage_on(member.segments, request.date_of_service)
    if segment is None:
        return _inactive(request, member, catalogue)

    plan = catalogue.plan(segment.plan_id)
    in_network = None if provider_contracted_plan_ids is None else plan.id in provider_contracted_plan_ids
    year = benefit_year(request.date_of_service)
    acc = next((a for a in accumulators if a.member_id == member.member_id and a.plan_year == year), None)
    family = None
    if member.family_id is not None:
        family = next((f for f in family_accumulators if f.family_id == member.family_id and f.plan_year == year),
                      FamilyAccumulators(family_id=member.family_id, plan_year=year))
    return EligibilityResult(
        status="active",
        plan=_summary(plan),
        coverage=_period(segment),
        benefits=_benefits(plan, acc, family),
        services=tuple(_service(code, plan, catalogue, in_network) for code in request.procedure_codes),
    )


def _inactive(request: CheckRequest, member: Member, catalogue: Catalogue) -> EligibilityResult:
    # The caller proved member id and birth date, so the nearest period (e.g. "terminated
    # 2026-03-31") is theirs to see; benefits are withheld because none apply that day.
    nearest = nearest_coverage(member.segments, request.date_of_service)
    inactive = ServiceNote(code="coverage_inactive", message="the member has no coverage on the date of service")
    return EligibilityResult(
        status="inactive",
        plan=_summary(catalogue.plan(nearest.plan_id)) if nearest else None,
        coverage=_period(nearest) if nearest else None,
        services=tuple(
            _not_covered(code, catalogue, None, inactive if catalogue.is_known_procedure(code) else _unknown(code))
            for code in request.procedure_codes
        ),
    )


def _summary(plan: Plan) -> PlanSummary:
    return PlanSummary(id=plan.id, name=plan.name, metal_level=plan.metal_level, network_type=plan.network_type)


def _period(segment: CoverageSegment) -> CoveragePeriod:
    return CoveragePeriod(start=segment.start, end=segment.end)


def _benefits(plan: Plan, acc: Accumulators | None, family: FamilyAccumulators | None) -> Benefits:
    return Benefits(
        deductible=_accumulation(plan.deductible.individual, acc.deductible_met if acc else ZERO,
                                 plan.deductible.family, family.deductible_met if family else None),
        out_of_pocket_max=_accumulation(plan.out_of_pocket_max.individual, acc.out_of_pocket_met if acc else ZERO,
                                        plan.out_of_pocket_max.family, family.out_of_pocket_met if family else None),
        coinsurance_percent=plan.coinsurance_percent,
        copays=plan.copays,
    )


def _accumulation(amount: Decimal, met: Decimal, family_amount: Decimal, family_met: Decimal | None) -> Accumulation:
    individual = _limit(amount, met)
    if family_met is None:
        return individual
    family = _limit(family_amount, family_met)
    # Either limit reached is the limit reached (docs/adjudication-rules.md §8).
    return individual.model_copy(update={"remaining": min(individual.remaining, family.remaining), "family": family})


def _limit(amount: Decimal, met: Decimal) -> Accumulation:
    # met can exceed a plan's amount after a mid-year change to a plan with a lower limit.
    shown = min(met, amount)
    return Accumulation(amount=amount, met=shown, remaining=amount - shown)


def _service(code: str, plan: Plan, catalogue: Catalogue, in_network: bool | None) -> ServiceBenefit:
    category = catalogue.category_of(code)
    if category is None:
        return _not_covered(code, catalogue, in_network, _unknown(code))
    if code in plan.excluded_procedure_codes:
        # The same exclusion adjudication denies CO-204: a front desk learns it before the visit.
        note = ServiceNote(code="excluded_service", message=f"{plan.name} excludes this service from its benefits")
        return _not_covered(code, catalogue, in_network, note)
    out_of_network = in_network is False
    if out_of_network and not plan.covers_out_of_network(category):
        note = ServiceNote(
            code="out_of_network",
            message=f"the provider is not in the {plan.network_type} network of {plan.name}, which covers "
            f"out-of-network care only for {', '.join(sorted(plan.out_of_network.covered_categories))}",
        )
        return _not_covered(code, catalogue, in_network, note)
    sharing = plan.cost_sharing[category]
    return ServiceBenefit(
        procedure_code=code,
        known=True,
        category=category,
        covered=True,
        in_network=in_network,
        prior_authorization_required=plan.requires_prior_authorization(code),
        copay=sharing.copay,
        # A copay replaces coinsurance for its category.
        coinsurance_percent=0 if sharing.copay is not None else _coinsurance(plan, category, out_of_network),
        deductible_applies=sharing.deductible_applies and plan.deductible.individual > 0,
    )


def _coinsurance(plan: Plan, category: str, out_of_network: bool) -> int:
    # Emergency care is charged at in-network cost sharing wherever it is given (No
    # Surprises Act), and a closed network covers nothing else out of network.
    if (not out_of_network or category == EMERGENCY_CATEGORY or plan.network_type in CLOSED_NETWORKS
            or plan.out_of_network.coinsurance_percent is None):
        return plan.coinsurance_percent
    return plan.out_of_network.coinsurance_percent


def _unknown(code: str) -> ServiceNote:
    return ServiceNote(code="unknown_procedure_code", message=f"procedure code {code!r} is not in the code set")


def _not_covered(code: str, catalogue: Catalogue, in_network: bool | None, note: ServiceNote) -> ServiceBenefit:
    return ServiceBenefit(
        procedure_code=code,
        known=catalogue.is_known_procedure(code),
        category=catalogue.category_of(code),
        covered=False,
        in_network=in_network,
        # Nothing is payable, so there is nothing to authorize.
        prior_authorization_required=False,
        copay=None,
        coinsurance_percent=None,
        deductible_applies=None,
        reason=note,
    )
