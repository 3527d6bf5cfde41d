"""Identifiers as every service spells them: the one place a member id is normalised.

Member ids are printed on ID cards and typed by people ("m0123456789 "); every
service that receives one from outside (claims, eligibility, authorizations) and
every read copy keyed by one goes through normalize_member_id, so the same member
is never two keys.
"""

import re

MEMBER_ID_PATTERN = re.compile(r"M[0-9]{10}")
"""The shape eligibility issues: M + 10 ASCII digits."""


def normalize_member_id(raw: str) -> str:
    return raw.strip().upper()


def is_member_id(value: str) -> bool:
    return MEMBER_ID_PATTERN.fullmatch(value) is not None
