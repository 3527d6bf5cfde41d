"""Business edits run on a well-formed claim before it is accepted.

Every edit runs and every failure is reported, so a biller fixes a claim in one
round trip. Messages never echo what the plan has on file about the member (date
of birth, coverage dates): whoever submits a claim has not proven they may see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

from refdata import codes

from .context import EditContext
from .problems import CLAIM, Problem
from .submission import ClaimLine, ClaimSubmission

Edit = Callable[[ClaimSubmission, EditContext], Iterator[Problem]]


def validate_claim(claim: ClaimSubmission, context: EditContext) -> list[Problem]:
    """All business edits of a claim; an empty list means it may be accepted."""
    if context.member is not None and context.member.member_id != claim.member_id:
        raise ValueError("context.member must describe the claim's member (or be None)")
    return [problem for edit in EDITS for problem in edit(claim, context)]


# --------------------------------------------------------------- claim level


def frequency_edit(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    if claim.frequency_code in ("7", "8") and claim.original_claim_id is None:
        kind, verb = ("replacement", "replaces") if claim.frequency_code == "7" else ("void", "voids")
        yield Problem(
            "original_claim_id",
            "missing_original_claim_id",
            f"a {kind} claim (frequency code {claim.frequency_code}) must name the claim it {verb}",
        )
    if claim.frequency_code == "1" and claim.original_claim_id is not None:
        yield Problem(
            "original_claim_id",
            "unexpected_original_claim_id",
            "an original claim (frequency code 1) cannot refer to another claim; use 7 to replace or 8 to void",
        )


def npi_edits(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    yield from _npi_problems("billing_provider.npi", claim.billing_provider.npi)
    yield from _npi_problems("rendering_provider_npi", claim.rendering_provider_npi)


def _npi_problems(loc: str, npi: str) -> Iterator[Problem]:
    if not codes.is_npi_format(npi):
        yield Problem(loc, "invalid_npi", "an NPI is exactly 10 digits")
    elif not codes.is_valid_npi(npi):
        yield Problem(loc, "invalid_npi", "the NPI's check digit is wrong")


def organization_edit(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    # A malformed NPI/TIN is already reported above; saying it is also not the
    # organisation's would only be noise.
    npi, tin = claim.billing_provider.npi, claim.billing_provider.tin
    if codes.is_valid_npi(npi) and npi not in context.organization_npis:
        yield Problem(
            "billing_provider.npi",
            "npi_not_in_organization",
            "the billing NPI is not registered to your organisation",
        )
    if not codes.is_valid_tin(tin):
        yield Problem("billing_provider.tin", "invalid_tin", "a TIN is 9 digits, written NNNNNNNNN or NN-NNNNNNN")
    elif codes.normalize_tin(tin) != codes.normalize_tin(context.organization_tin):
        yield Problem(
            "billing_provider.tin",
            "tin_not_in_organization",
            "the billing TIN is not your organisation's TIN",
        )


def diagnosis_code_edit(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, code in enumerate(claim.diagnosis_codes):
        loc = f"diagnosis_codes[{index}]"
        status = codes.diagnosis_code_status(code)
        if status == "invalid":
            yield Problem(loc, "invalid_diagnosis_code", f"{code} is not an ICD-10-CM code")
            continue
        if status == "not_billable":
            yield Problem(
                loc,
                "non_billable_diagnosis_code",
                f"{code} is an ICD-10-CM category with subdivisions; report its most specific code",
            )
        dotted = codes.normalize_diagnosis_code(code)
        if dotted in seen:
            yield Problem(
                loc, "duplicate_diagnosis_code", f"{dotted} is already listed as diagnosis_codes[{seen[dotted]}]"
            )
        else:
            seen[dotted] = index


MEMBER_NOT_FOUND = Problem("member_id", "member_not_found", "No member with this id and date of birth.")
"""One answer for an unknown member id and for a known id with another birth date: the
edits must not tell a caller which member ids exist."""


def patient_edit(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    if claim.patient_date_of_birth > context.today:
        yield Problem("patient_date_of_birth", "future_date_of_birth", "the date of birth is in the future")
    member = context.member
    if member is None or member.date_of_birth != claim.patient_date_of_birth:
        yield MEMBER_NOT_FOUND


def duplicate_claim_edit(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    # A replacement or void naturally repeats the claim it corrects.
    existing = context.duplicate_of_claim_id
    if existing is not None and existing != claim.original_claim_id:
        yield Problem(
            CLAIM,
            "duplicate_claim",
            f"the same services were already billed on claim {existing}; "
            "send a replacement (frequency code 7) to change it",
        )


# ---------------------------------------------------------------- line level


def _each_line(
    check: Callable[[str, ClaimLine, ClaimSubmission, EditContext], Iterator[Problem]],
) -> Edit:
    def edit(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
        for index, line in enumerate(claim.lines):
            yield from check(f"lines[{index}]", line, claim, context)

    edit.__name__ = check.__name__
    return edit


@_each_line
def procedure_code_edit(at: str, line: ClaimLine, claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    code = line.procedure_code
    if not codes.is_procedure_code_format(code):
        yield Problem(
            f"{at}.procedure_code",
            "invalid_procedure_code",
            f"{code} is not a CPT (5 characters) or HCPCS Level II (letter and 4 digits) code",
        )
    elif not codes.is_known_procedure_code(code):
        yield Problem(
            f"{at}.procedure_code", "unknown_procedure_code", f"{code} is not a procedure code this plan recognises"
        )


@_each_line
def modifier_edit(at: str, line: ClaimLine, claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, modifier in enumerate(line.modifiers):
        loc = f"{at}.modifiers[{index}]"
        if not codes.is_modifier_format(modifier):
            yield Problem(loc, "invalid_modifier", f"{modifier} is not a modifier: modifiers are 2 letters or digits")
        elif modifier in seen:
            yield Problem(loc, "duplicate_modifier", f"modifier {modifier} is listed twice on this line")
        seen.add(modifier)


@_each_line
def place_of_service_edit(at: str, line: ClaimLine, claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    if not codes.is_known_place_of_service(line.place_of_service):
        yield Problem(
            f"{at}.place_of_service",
            "unknown_place_of_service",
            f"{line.place_of_service} is not a CMS place of service code this plan recognises",
        )


@_each_line
def diagnosis_pointer_edit(at: str, line: ClaimLine, claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    count = len(claim.diagnosis_codes)
    seen: set[int] = set()
    for index, pointer in enumerate(line.diagnosis_pointers):
        loc = f"{at}.diagnosis_pointers[{index}]"
        if not 1 <= pointer <= count:
            yield Problem(
                loc,
                "diagnosis_pointer_out_of_range",
                f"pointer {pointer} does not point into diagnosis_codes (1 to {count})",
            )
        elif pointer in seen:
            yield Problem(loc, "duplicate_diagnosis_pointer", f"pointer {pointer} is listed twice on this line")
        seen.add(pointer)


@_each_line
def service_date_edit(at: str, line: ClaimLine, claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    loc = f"{at}.date_of_service"
    served = line.date_of_service
    if served > context.today:
        yield Problem(loc, "future_date_of_service", "services cannot be billed before they are provided")
    elif (context.today - served).days > context.timely_filing_days:
        yield Problem(
            loc,
            "timely_filing_expired",
            f"the claim is filed more than {context.timely_filing_days} days after the date of service",
        )
    if served < claim.patient_date_of_birth:
        yield Problem(loc, "date_of_service_before_birth", "the date of service is before the patient's date of birth")


@_each_line
def member_coverage_edit(at: str, line: ClaimLine, claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    # Coverage is only assessed for a patient whose identity matched: otherwise
    # the answer would tell a stranger whether someone is insured.
    member = context.member
    if member is None or member.date_of_birth != claim.patient_date_of_birth:
        return
    if not member.covered_on(line.date_of_service):
        yield Problem(
            f"{at}.date_of_service",
            "member_not_covered",
            "the member has no coverage with the plan on this date of service",
        )


def duplicate_line_edit(claim: ClaimSubmission, context: EditContext) -> Iterator[Problem]:
    # Same service, same day, same modifiers; a true repeat carries 76, 77 or 91
    # (or an X modifier) and so has a different key.
    first_seen: dict[tuple[str, date, frozenset[str]], int] = {}
    for index, line in enumerate(claim.lines):
        key = (line.procedure_code, line.date_of_service, frozenset(line.modifiers))
        if key in first_seen:
            yield Problem(
                f"lines[{index}]",
                "duplicate_line",
                f"repeats lines[{first_seen[key]}] (same procedure, modifiers and date of service); "
                "bill more units on one line or add a repeat-service modifier",
            )
        else:
            first_seen[key] = index


EDITS: tuple[Edit, ...] = (
    frequency_edit,
    npi_edits,
    organization_edit,
    patient_edit,
    diagnosis_code_edit,
    procedure_code_edit,
    modifier_edit,
    place_of_service_edit,
    diagnosis_pointer_edit,
    service_date_edit,
    member_coverage_edit,
    duplicate_line_edit,
    duplicate_claim_edit,
)
"""In the order their problems are listed: claim-level fields first, then lines."""
