"""Denial figures, pure: what one claim decision adds to the day buckets, and the answer.

An organisation's month (and year, infra/buckets.py) is three buckets, one per
dimension, each with the totals so that a query reads one kind: `<org>:<YYYY-MM>:c`
(CARC; also answers group_by=month), `...:p` (procedure code), `...:v` (billing
provider NPI). Counters, prefixed by the day of the month ("07|n"; flat names: FerretDB v1 and `$inc` on
nested paths with numeric keys such as CARC "197" do not mix well):

    n, d, a                  adjudicated lines, denied lines, denied amount (cents)
    c|<carc>|d, c|<carc>|a   denied lines and amount under a denial CARC   (in c)
    p|<code>|n|d|a           per procedure code                            (in p)
    v|<npi>|n|d|a            per billing provider NPI                      (in v)

No member id, no name, no claim id: the figures are aggregates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date
from decimal import Decimal
from typing import Any, Literal

from contracts.denials import denial_carc
from contracts.events.claims import ClaimAdjudicated
from contracts.money import money_text
from infra.buckets import Contribution, in_range, spread
from refdata.carc import describe

GroupBy = Literal["carc", "procedure_code", "provider", "month"]
_PREFIX = {"carc": "c", "procedure_code": "p", "provider": "v"}
DIMENSION = {"carc": "c", "month": "c", "procedure_code": "p", "provider": "v"}


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def decision_counters(decision: ClaimAdjudicated) -> dict[str, dict[str, int]]:
    """The counters one decision's lines make, per dimension."""
    counters: dict[str, dict[str, int]] = {dim: defaultdict(int) for dim in ("c", "p", "v")}
    npi = decision.billing_provider.npi if decision.billing_provider else "unknown"
    for line in decision.lines:
        carc = denial_carc(line)
        amount = cents(line.charge_amount) if carc else 0
        for dim, prefix in (("c", ""), ("p", f"p|{line.procedure_code}|"), ("v", f"v|{npi}|")):
            for name in {"n", prefix + "n"}:
                counters[dim][name] += 1
            if carc:
                for name in {"d", prefix + "d"}:
                    counters[dim][name] += 1
                for name in {"a", prefix + "a"}:
                    counters[dim][name] += amount
        if carc:
            counters["c"][f"c|{carc}|d"] += 1
            counters["c"][f"c|{carc}|a"] += amount
    return {dim: dict(c) for dim, c in counters.items()}


def decision_contribution(decision: ClaimAdjudicated) -> Contribution:
    """What the claim's latest decision adds: its lines on its adjudication day (UTC), for its
    organisation and for all. A later decision replaces it; a void or replacement empties it."""
    if decision.organization_id is None:
        return {}  # an event from before decisions named their organisation: nowhere to count it
    day = decision.adjudicated_at.astimezone(UTC).date()
    return spread(decision.organization_id, day, decision_counters(decision))


def _rate(denied: int, lines: int) -> float:
    return round(denied / lines, 4) if lines else 0.0


def _money(amount_cents: int) -> str:
    return money_text(Decimal(amount_cents) / 100)


def figures(buckets: Iterable[Mapping[str, Any]], start: date, end: date, group_by: GroupBy) -> dict[str, Any]:
    """The answer from the month buckets of the dimension `group_by` reads (DIMENSION)."""
    total: dict[str, int] = defaultdict(int)
    months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for bucket in buckets:
        for day, name, value in in_range(bucket, start, end):
            total[name] += value
            if name in ("n", "d", "a"):
                months[day.isoformat()[:7]][name] += value
    lines = total.get("n", 0)
    summary = {"adjudicated_lines": lines, "denied_lines": total.get("d", 0),
               "denied_amount": _money(total.get("a", 0)), "denial_rate": _rate(total.get("d", 0), lines)}
    if group_by == "month":
        groups = [{"month": month, "adjudicated_lines": c.get("n", 0), "denied_lines": c.get("d", 0),
                   "denied_amount": _money(c.get("a", 0)), "denial_rate": _rate(c.get("d", 0), c.get("n", 0))}
                  for month, c in sorted(months.items()) if c.get("n", 0)]
        return {"totals": summary, "groups": groups}
    prefix = _PREFIX[group_by] + "|"
    by_key: dict[str, dict[str, int]] = defaultdict(dict)
    for name, value in total.items():
        if name.startswith(prefix):
            _, key, counter = name.split("|")
            by_key[key][counter] = value
    groups = []
    for key, c in by_key.items():
        denied = c.get("d", 0)
        if group_by == "carc":
            if not denied:
                continue
            # The share of all adjudicated lines denied under this code.
            groups.append({"carc": key, **describe(key), "denied_lines": denied,
                           "denied_amount": _money(c.get("a", 0)), "denial_rate": _rate(denied, lines)})
            continue
        if not c.get("n", 0):
            continue  # every line it had left the figures (a replaced or voided claim)
        name = "procedure_code" if group_by == "procedure_code" else "provider_npi"
        groups.append({name: key, "adjudicated_lines": c.get("n", 0), "denied_lines": denied,
                       "denied_amount": _money(c.get("a", 0)), "denial_rate": _rate(denied, c.get("n", 0))})
    groups.sort(key=lambda g: (-g["denied_lines"], -Decimal(g["denied_amount"]), str(next(iter(g.values())))))
    return {"totals": summary, "groups": groups}


def days_of(start: date, end: date) -> int:
    return (end - start).days + 1
