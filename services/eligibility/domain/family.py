"""Family policies: who a member's policy is shared with, decided at enrollment.

A subscriber enrolls on a family policy with coverage_tier "family"; each dependent
names the subscriber (subscriber_member_id) and is on the family policy by that
alone. The family is named by the subscriber's id, which is why a dependent cannot
hold dependents of their own and a subscriber must be on a family policy: otherwise
a family's accumulators would count towards two families, or towards none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import DomainError
from .member import Member

Tier = Literal["individual", "family"]


@dataclass(frozen=True)
class FamilyPolicy:
    coverage_tier: Tier = "individual"
    subscriber_member_id: str | None = None


INDIVIDUAL = FamilyPolicy()


def family_problems(
    coverage_tier: Tier | None, subscriber_member_id: str | None, subscriber: Member | None
) -> list[DomainError]:
    """Why the requested policy cannot be; `subscriber` is the named subscriber as loaded (None: unknown)."""
    problems: list[DomainError] = []
    if subscriber_member_id is None:
        return problems
    if coverage_tier == "individual":
        problems.append(DomainError(
            "dependent_is_family", "a member with a subscriber is on the subscriber's family policy",
            loc="coverage_tier",
        ))
    if subscriber is None:
        problems.append(DomainError(
            "unknown_subscriber", "no member with this id to be the policy's subscriber", loc="subscriber_member_id",
        ))
    elif subscriber.subscriber_member_id is not None:
        problems.append(DomainError(
            "subscriber_is_dependent", "this member is a dependent; name their subscriber instead",
            loc="subscriber_member_id",
        ))
    elif subscriber.coverage_tier != "family":
        problems.append(DomainError(
            "subscriber_not_on_family_policy", "this member is on an individual policy", loc="subscriber_member_id",
        ))
    return problems


def family_policy(
    coverage_tier: Tier | None, subscriber_member_id: str | None, subscriber: Member | None
) -> FamilyPolicy:
    if subscriber_member_id is not None:
        assert subscriber is not None, "family_problems first"
        return FamilyPolicy("family", subscriber.member_id)
    return FamilyPolicy(coverage_tier or "individual")
