"""Analytics, pure: bucket ids of a range, contributions, figures by hand."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from contracts.adjudicated import AdjudicatedLine, Adjustment, Totals
from contracts.events.claims import BillingProvider, ClaimAdjudicated
from infra.buckets import ALL, difference, in_range, range_ids, spread
from services.authorizations.domain.analytics import contribution, figures as auth_figures, median
from services.claims.domain.denials import decision_contribution, figures


@pytest.mark.parametrize("start,end,reads", [
    (date(2025, 1, 1), date(2025, 12, 31), 1), (date(2025, 1, 2), date(2026, 2, 5), 4),
    (date(2024, 2, 28), date(2024, 3, 1), 2), (date(2025, 3, 3), date(2025, 3, 3), 1),
    (date(2024, 12, 1), date(2025, 1, 31), 2)])
def test_range_ids_and_in_range_count_each_day_once(start, end, reads):
    ids = range_ids("o", start, end, "c")
    assert len(ids) == reads
    # A bucket set with one line on every day of 2024-2026, kept as the projection keeps it.
    buckets: dict[str, dict] = {}
    day = date(2024, 1, 1)
    while day <= date(2026, 12, 31):
        for bucket, fields in spread("o", day, {"c": {"n": 1}}).items():
            if bucket.startswith("o:"):
                target = buckets.setdefault(bucket, {"_id": bucket})
                for name, value in fields.items():
                    target[name] = target.get(name, 0) + value
        day = date.fromordinal(day.toordinal() + 1)
    counted = sum(v for b in ids for _, _, v in in_range(buckets[b], start, end))
    assert counted == (end - start).days + 1


def test_difference_takes_back_and_adds():
    assert difference({"a": {"n": 2, "d": 1}}, {"a": {"n": 2}, "b": {"n": 1}}) == {"a": {"d": -1}, "b": {"n": 1}}


def _line(n, code, charge, paid, carc=None, group="CO"):
    adjustments = [Adjustment(group=group, carc=carc, amount=charge)] if carc else []
    return AdjudicatedLine(line_number=n, procedure_code=code, charge_amount=charge, allowed_amount=paid,
                           deductible="0.00", copay="0.00", coinsurance="0.00", paid_amount=paid,
                           patient_responsibility="0.00", adjustments=adjustments)


def _decision(lines, org="org1", npi="1234567893"):
    return ClaimAdjudicated(claim_id="c1", adjudication_id="a1", adjudicated_at=datetime(2025, 5, 6, 23, 30, tzinfo=UTC),
                            lines=lines, totals=Totals(charge="0.00", allowed="0.00", paid="0.00", patient_responsibility="0.00"),
                            organization_id=org, billing_provider=BillingProvider(npi=npi, tin="123456789"))


def test_denial_figures_by_hand():
    d = _decision([_line(1, "99213", "100.00", "80.00", "45"), _line(2, "97110", "50.00", "0.00", "204"),
                   _line(3, "97110", "25.50", "0.00", "197")])
    c = decision_contribution(d)
    assert set(c) == {f"{org}:{period}:{dim}" for org in ("org1", ALL) for dim in "cpv" for period in ("2025-05", "2025")}
    assert c["org1:2025-05:c"]["06|n"] == 3
    assert c["org1:2025:c"]["05|n"] == 3
    buckets = [{"_id": key, **fields} for key, fields in c.items() if key.startswith("org1:2025-05")]
    may = date(2025, 5, 1), date(2025, 5, 30)  # a ragged month: its month buckets answer

    def figures_by(group_by):
        dim = {"carc": "c", "month": "c", "procedure_code": "p", "provider": "v"}[group_by]
        return figures([b for b in buckets if b["_id"].endswith(dim)], *may, group_by)

    assert figures_by("carc")["totals"] == figures_by("provider")["totals"]
    assert figures([buckets[0]], date(2025, 5, 7), date(2025, 5, 31), "carc")["totals"]["adjudicated_lines"] == 0
    by_carc = figures_by("carc")
    assert by_carc["totals"] == {"adjudicated_lines": 3, "denied_lines": 2, "denied_amount": "75.50", "denial_rate": 0.6667}
    assert [(g["carc"], g["denied_lines"], g["denied_amount"]) for g in by_carc["groups"]] == [("204", 1, "50.00"), ("197", 1, "25.50")]
    assert by_carc["groups"][1]["hint"] == "Obtain prior authorization before the service."
    by_code = figures_by("procedure_code")["groups"]
    assert by_code[0] == {"procedure_code": "97110", "adjudicated_lines": 2, "denied_lines": 2,
                          "denied_amount": "75.50", "denial_rate": 1.0}
    assert figures_by("provider")["groups"][0]["provider_npi"] == "1234567893"
    assert figures_by("month")["groups"] == [{"month": "2025-05", "adjudicated_lines": 3, "denied_lines": 2,
                                                   "denied_amount": "75.50", "denial_rate": 0.6667}]


def test_median_exact():
    assert median({}) is None
    assert median({5: 1}) == 5
    assert median({1: 1, 3: 1}) == 2
    assert median({1: 2, 10: 1}) == 1
    assert median({1: 1, 2: 1, 3: 1, 100: 1}) == 2.5


def test_authorization_contribution_and_figures():
    base = {"organization_id": "o", "urgency": "expedited", "submitted_at": "2025-01-01T00:00:00+00:00",
            "decision_due_at": "2025-01-04T00:00:00+00:00"}
    first = contribution({**base, "decision": "approved", "decided_at": "2025-01-01T01:00:00+00:00", "info_requested": True})
    second = contribution({**base, "decision": "denied", "decided_at": "2025-01-05T00:00:00+00:00"})
    assert set(first) == {"o:2025-01:a", "o:2025:a", "*:2025-01:a", "*:2025:a"}
    bucket = {"_id": "o:2025-01:a"}
    for part in (first, second):
        for name, value in part["o:2025-01:a"].items():
            bucket[name] = bucket.get(name, 0) + value
    standard, expedited = auth_figures([bucket], date(2025, 1, 1), date(2025, 1, 30))
    assert auth_figures([bucket], date(2025, 1, 2), date(2025, 1, 4))[1]["decided"] == 0
    assert standard["decided"] == 0 and standard["median_decision_seconds"] is None
    assert expedited["submitted"] == 2 and expedited["decided"] == 2
    assert expedited["approval_rate"] == 0.5 and expedited["approved_after_info_request"] == 1
    assert expedited["mean_decision_seconds"] == (3600 + 4 * 86400) / 2
    assert expedited["median_decision_seconds"] == (3600 + 4 * 86400) / 2
    assert expedited["decided_after_due"] == 1


def test_stored_layout_round_trips_every_counter_name():
    from infra.buckets import flattened, stored_paths

    fields = {"07|n": 3, "07|p|99213|a": 1250, "12|c|CO.16|d": 1, "01|$x%2E|y": 2}
    paths = stored_paths(fields)
    assert all(path.count(".") == 1 and "$" not in path for path in paths)
    nested: dict = {"_id": "org1:2025-05:p", "~claim-1": 2}
    for path, value in paths.items():
        period, counter = path.split(".")
        nested.setdefault(period, {})[counter] = value
    assert flattened(nested) == {"_id": "org1:2025-05:p", "~claim-1": 2, **fields}
