"""Prior-authorization metrics (CMS-0057-F style), pure: one authorization's contribution
to the day buckets, from the facts of its events, and the figures from the buckets.

Buckets per organisation and month (`<org>:<YYYY-MM>:a`) and year (infra/buckets.py),
counters prefixed by the day of the month ("07|standard|dec"). Per urgency `u` (standard, expedited):

    u|s            submitted (on the submission day)
    u|dec          decided (approved or denied, on the decision day)
    u|ap, u|dn     approved, denied
    u|ai           approved after an information request
    u|late         decided after its decision clock (decision_due_at)
    u|od           marked overdue (authorization.overdue, on that day)
    u|sec          decision seconds, summed (for the mean)
    u|t|<seconds>  decisions that took exactly that many seconds (for the median)

The median needs more than counters. A per-second histogram keeps it exact and
still adds and subtracts with `$inc`: a bucket holds one field per distinct duration,
and authorization volumes per organisation and day are small (tens, not thousands).
A t-digest would bound the size but give an approximate median, which a published
figure should not be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from infra.buckets import Contribution, in_range, spread

URGENCIES = ("standard", "expedited")
DIMENSION = "a"


def _day(at: str) -> Any:
    return datetime.fromisoformat(at).astimezone(UTC).date()


def contribution(facts: Mapping[str, Any]) -> Contribution:
    """What an authorization adds, from its facts (the marker's state):

    organization_id, urgency, submitted_at, decision_due_at, info_requested,
    decision ("approved" / "denied"), decided_at, overdue_at (ISO datetimes).
    """
    org, urgency = facts.get("organization_id"), facts.get("urgency")
    if not org or urgency not in URGENCIES:
        return {}
    out: Contribution = {}

    def count(at: str, fields: dict[str, int]) -> None:
        part = spread(org, _day(at), {DIMENSION: {f"{urgency}|{k}": v for k, v in fields.items()}})
        for bucket, counters in part.items():
            target = out.setdefault(bucket, {})
            for name, value in counters.items():
                target[name] = target.get(name, 0) + value

    if facts.get("submitted_at"):
        count(facts["submitted_at"], {"s": 1})
    if facts.get("overdue_at"):
        count(facts["overdue_at"], {"od": 1})
    decision = facts.get("decision")
    if decision in ("approved", "denied") and facts.get("decided_at"):
        fields = {"dec": 1, "ap" if decision == "approved" else "dn": 1}
        if decision == "approved" and facts.get("info_requested"):
            fields["ai"] = 1
        decided = datetime.fromisoformat(facts["decided_at"])
        if facts.get("decision_due_at") and decided > datetime.fromisoformat(facts["decision_due_at"]):
            fields["late"] = 1
        if facts.get("submitted_at"):
            seconds = max(0, int((decided - datetime.fromisoformat(facts["submitted_at"])).total_seconds()))
            fields["sec"] = seconds
            fields[f"t|{seconds}"] = 1
        count(facts["decided_at"], fields)
    return out


def median(histogram: Mapping[int, int]) -> float | None:
    size = sum(histogram.values())
    if not size:
        return None
    values = sorted(histogram)
    middle = [(size - 1) // 2, size // 2]
    found: list[int] = []
    seen = 0
    for value in values:
        seen += histogram[value]
        while len(found) < 2 and seen > middle[len(found)]:
            found.append(value)
    return (found[0] + found[1]) / 2


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def figures(buckets: Iterable[Mapping[str, Any]], start: date, end: date) -> list[dict[str, Any]]:
    total: dict[str, int] = {}
    for bucket in buckets:
        for _, name, value in in_range(bucket, start, end):
            total[name] = total.get(name, 0) + value
    out = []
    for urgency in URGENCIES:
        c = {name.split("|", 1)[1]: v for name, v in total.items() if name.startswith(urgency + "|")}
        histogram = {int(name[2:]): v for name, v in c.items() if name.startswith("t|") and v}
        timed = sum(histogram.values())
        decided = c.get("dec", 0)
        mean = round(c.get("sec", 0) / timed, 1) if timed else None
        out.append({
            "urgency": urgency,
            "submitted": c.get("s", 0),
            "decided": decided,
            "approved": c.get("ap", 0),
            "denied": c.get("dn", 0),
            "approved_after_info_request": c.get("ai", 0),
            "approval_rate": _share(c.get("ap", 0), decided),
            "denial_rate": _share(c.get("dn", 0), decided),
            "approved_after_info_request_rate": _share(c.get("ai", 0), decided),
            "mean_decision_seconds": mean,
            "median_decision_seconds": median(histogram),
            "decided_after_due": c.get("late", 0),
            "overdue": c.get("od", 0),
        })
    return out
