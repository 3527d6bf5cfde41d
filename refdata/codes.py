"""Code sets a claim is checked against, and the identifier checks (NPI, TIN).

Everything here is pure: the code sets are read once from files shipped with the
code (this package's JSON files and the `simple_icd_10_cm` package) and cached.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Literal, Mapping

_HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------- ICD-10-CM


@cache
def _icd() -> ModuleType:
    # The package loads its whole tabular list at import (~1 s) and uses a
    # deprecated importlib API; import it once, on first use, quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


DiagnosisCodeStatus = Literal["billable", "not_billable", "invalid"]


def normalize_diagnosis_code(code: str) -> str:
    """The dotted, upper-case form ("e119" -> "E11.9"); unknown codes come back
    trimmed and upper-cased so that they can still be echoed in an error."""
    candidate = code.strip().upper()
    icd = _icd()
    if not icd.is_valid_item(candidate):
        return candidate
    return icd.add_dot(candidate)


def diagnosis_code_status(code: str) -> DiagnosisCodeStatus:
    """Only a leaf of the tabular list may be reported on a claim; chapters and
    blocks ("E08-E13") are not codes at all, categories with children ("E11")
    are real codes that are not billable."""
    candidate = code.strip().upper()
    icd = _icd()
    if not icd.is_valid_item(candidate) or not icd.is_category_or_subcategory(candidate):
        return "invalid"
    return "billable" if icd.is_leaf(candidate) else "not_billable"


def is_billable_diagnosis_code(code: str) -> bool:
    return diagnosis_code_status(code) == "billable"


def diagnosis_code_description(code: str) -> str | None:
    icd = _icd()
    candidate = code.strip().upper()
    return icd.get_description(candidate) if icd.is_valid_item(candidate) else None


# ---------------------------------------------------------- procedure codes

# CPT Category I (5 digits), Category II (4 digits + F), Category III (4 digits
# + T), PLA (4 digits + U); HCPCS Level II (letter A-V + 4 digits).
_PROCEDURE_CODE_FORMAT = re.compile(r"[0-9]{4}[0-9FTU]|[A-V][0-9]{4}")


@dataclass(frozen=True)
class ProcedureCode:
    code: str
    description: str
    category: str


def is_procedure_code_format(code: str) -> bool:
    return _PROCEDURE_CODE_FORMAT.fullmatch(code) is not None


@cache
def procedure_codes() -> Mapping[str, ProcedureCode]:
    """The procedure codes the plan knows (code -> entry), from procedure_codes.json."""
    data = json.loads((_HERE / "procedure_codes.json").read_text(encoding="utf-8"))
    return MappingProxyType(
        {
            entry["code"]: ProcedureCode(entry["code"], entry["description"], entry["category"])
            for entry in data["codes"]
        }
    )


def is_known_procedure_code(code: str) -> bool:
    return code in procedure_codes()


def procedure_category(code: str) -> str | None:
    entry = procedure_codes().get(code)
    return entry.category if entry else None


# ---------------------------------------------------------------- modifiers

_MODIFIER_FORMAT = re.compile(r"[A-Z0-9]{2}")

# Modifiers this platform gives meaning to (bundling, laterality, repeats,
# telehealth); any other well-formed modifier is accepted and passed through.
KNOWN_MODIFIERS: frozenset[str] = frozenset(
    {"25", "26", "50", "59", "76", "77", "91", "95", "GT", "LT", "RT", "TC", "XE", "XP", "XS", "XU"}
)


def is_modifier_format(modifier: str) -> bool:
    return _MODIFIER_FORMAT.fullmatch(modifier) is not None


# ------------------------------------------------------- place of service


@cache
def places_of_service() -> Mapping[str, str]:
    """Place of service code -> name, from place_of_service.json."""
    data = json.loads((_HERE / "place_of_service.json").read_text(encoding="utf-8"))
    return MappingProxyType({entry["code"]: entry["name"] for entry in data["codes"]})


def is_known_place_of_service(code: str) -> bool:
    return code in places_of_service()


# --------------------------------------------------------------------- NPI

# [0-9], never \d: in Python \d also matches other scripts' digits ("١٢٣", fullwidth
# "１２３"), which int() then reads as numbers, so such an NPI would pass the Luhn check.
_NPI_FORMAT = re.compile(r"[0-9]{10}")
# CMS: the NPI check digit is the Luhn check digit of "80840" + the first 9
# digits; the prefix's doubled-digit sum is always 24.
_NPI_PREFIX = "80840"


def luhn_check_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 0:  # rightmost payload digit is doubled
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_check_digit(first_nine: str) -> int:
    if not re.fullmatch(r"[0-9]{9}", first_nine):
        raise ValueError("an NPI check digit is computed over exactly 9 digits")
    return luhn_check_digit(_NPI_PREFIX + first_nine)


def is_npi_format(npi: str) -> bool:
    return _NPI_FORMAT.fullmatch(npi) is not None


def is_valid_npi(npi: str) -> bool:
    return is_npi_format(npi) and npi_check_digit(npi[:9]) == int(npi[9])


# --------------------------------------------------------------------- TIN

_TIN_FORMAT = re.compile(r"[0-9]{9}|[0-9]{2}-[0-9]{7}")


def is_valid_tin(tin: str) -> bool:
    return _TIN_FORMAT.fullmatch(tin) is not None and normalize_tin(tin) != "000000000"


def normalize_tin(tin: str) -> str:
    """Nine digits without the hyphen, so "12-3456789" and "123456789" compare equal."""
    return tin.strip().replace("-", "")


def preload() -> None:
    """Load every code set now (the ICD-10-CM tables take a second or two), so a
    service pays for it at start-up rather than on its first claim."""
    _icd()
    procedure_codes()
    places_of_service()
