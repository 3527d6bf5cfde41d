"""membership.events: published by eligibility; keyed by member id.

The payload models are the member aggregate's own events (the stream is the record).
"""

from contracts import topics
from contracts.contract import EventContract
from services.eligibility.domain.events import CoverageTerminated, MemberEnrolled, MemberReenrolled, PlanChanged

CONTRACTS = (
    EventContract(MemberEnrolled.type, topics.MEMBERSHIP, MemberEnrolled, "A member enrolled with a first coverage period."),
    EventContract(MemberReenrolled.type, topics.MEMBERSHIP, MemberReenrolled, "A member started a new coverage period."),
    EventContract(CoverageTerminated.type, topics.MEMBERSHIP, CoverageTerminated, "A member's coverage now ends on a date."),
    EventContract(PlanChanged.type, topics.MEMBERSHIP, PlanChanged, "A member moved to another plan from a date."),
)
