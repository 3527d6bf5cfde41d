"""Prior authorization end to end on real Kafka and FerretDB: the review loop, denial, cancellation,
auto-approval, clocks, 404 across organisations, audited reads, and every problem named."""

import uuid
from datetime import UTC, date, datetime, timedelta

from tests.integration.test_claim_attachments import pdf_of
from tests.support.authorizations import authorization_body, reviewer, submit, wait_until_known
from tests.support.kafka import events_about, read_topic
from tests.support.waiting import eventually

NOTES = "Right knee pain for 6 months; failed conservative therapy."


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_submitted_reviewed_asked_answered_and_approved_with_units(platform, running_stack, org):
    member = await platform.new_member(wait_for_claims=False)
    await wait_until_known(org, member)
    desk = await reviewer(platform)

    receipt = await submit(org, authorization_body(org, member, codes=("73721", "99213")))
    authorization_id = receipt["authorization_id"]
    assert receipt["status"] == "submitted"
    assert receipt["requirements"] == [{"procedure_code": "73721", "authorization_required": True},
                                       {"procedure_code": "99213", "authorization_required": False}]
    assert _at(receipt["decision_due_at"]) - _at(receipt["submitted_at"]) == timedelta(days=7)

    # Only reviewers and operators decide.
    refused = await org.client.post(f"/v1/authorizations/{authorization_id}/decisions", json={"decision": "approved"})
    assert refused.status_code == 403

    queue = await desk.get("/v1/authorizations", params={"status": "submitted", "limit": 100})
    assert queue.status_code == 200
    reviewed = await desk.post(f"/v1/authorizations/{authorization_id}/review")
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "in_review"

    asked = await desk.post(f"/v1/authorizations/{authorization_id}/decisions",
                            json={"decision": "info_requested", "note": "Please send the MRI-prior X-ray report."})
    assert asked.status_code == 200, asked.text
    (request,) = asked.json()["info_requests"]
    assert asked.json()["status"] == "info_requested" and request["status"] == "open"

    upload = await org.client.post(f"/v1/authorizations/{authorization_id}/attachments", data={"document_type": "77"},
                                   files={"file": ("xray.pdf", pdf_of(30_000), "application/pdf")})
    assert upload.status_code == 201, upload.text
    attachment_id = upload.json()["attachment_id"]
    answered = await org.client.post(
        f"/v1/authorizations/{authorization_id}/info-requests/{request['info_request_id']}/responses",
        json={"message": "X-ray report attached.", "attachment_ids": [attachment_id]})
    assert answered.status_code == 201, answered.text
    assert answered.json()["status"] == "in_review"

    too_many = await desk.post(f"/v1/authorizations/{authorization_id}/decisions",
                               json={"decision": "approved", "approved_units": 5})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["code"] == "approved_units_out_of_range"
    approved = await desk.post(f"/v1/authorizations/{authorization_id}/decisions",
                               json={"decision": "approved", "approved_units": 3, "note": "Approved for 3 sessions."})
    assert approved.status_code == 200, approved.text
    view = (await org.client.get(f"/v1/authorizations/{authorization_id}")).json()
    assert view["status"] == "approved" and view["approved_units"] == 3 and view["used_units"] == 0
    assert view["decision"]["decided_by_role"] == "reviewer" and view["decision"]["note"] == "Approved for 3 sessions."
    assert [t["status"] for t in view["timeline"]] == ["submitted", "in_review", "info_requested", "in_review", "approved"]
    assert view["decided_at"] and view["overdue"] is False and view["clinical_notes"] == NOTES

    thread = (await org.client.get(f"/v1/authorizations/{authorization_id}/messages")).json()["items"]
    assert [m["author"]["party"] for m in thread] == ["payer", "provider", "payer"]
    content = await desk.get(f"/v1/authorizations/{authorization_id}/attachments/{attachment_id}/content")
    assert content.status_code == 200 and content.content.startswith(b"%PDF")

    async def published():
        found = await events_about(running_stack.kafka_bootstrap, "authorizations.events", authorization_id)
        return found if any(e["type"] == "authorization.approved" for e in found) else None

    found = await eventually(published, timeout=30, what="the approval on authorizations.events")
    assert [e["type"] for e in found if e["type"] != "authorization.message_posted"] == [
        "authorization.submitted", "authorization.in_review", "authorization.info_requested",
        "authorization.info_request_answered", "authorization.approved"]
    assert all(e["partitionkey"] == member["member_id"] for e in found)
    approval = next(e for e in found if e["type"] == "authorization.approved")["data"]
    assert (approval["approved_units"], approval["procedure_codes"]) == (3, ["73721", "99213"])
    raw = str(found)
    assert NOTES not in raw and "X-ray report attached" not in raw and "Approved for 3" not in raw


async def test_denied_with_a_reason_cancelled_and_not_cancellable_once_decided(platform, org):
    member = await platform.new_member(wait_for_claims=False)
    await wait_until_known(org, member)
    desk = await reviewer(platform)

    denied_id = (await submit(org, authorization_body(org, member)))["authorization_id"]
    no_reason = await desk.post(f"/v1/authorizations/{denied_id}/decisions", json={"decision": "denied"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["code"] == "missing_reason_code"
    denied = await desk.post(f"/v1/authorizations/{denied_id}/decisions",
                             json={"decision": "denied", "reason_code": "not_medically_necessary"})
    assert denied.status_code == 200, denied.text
    assert denied.json()["decision"]["reason_code"] == "not_medically_necessary"
    late = await org.client.post(f"/v1/authorizations/{denied_id}/cancellation")
    assert late.status_code == 409 and late.headers["content-type"].startswith("application/problem+json")
    again = await desk.post(f"/v1/authorizations/{denied_id}/review")
    assert again.status_code == 409

    cancelled_id = (await submit(org, authorization_body(org, member, codes=("27447",))))["authorization_id"]
    cancelled = await org.client.post(f"/v1/authorizations/{cancelled_id}/cancellation")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_auto_approved_by_a_rule_within_two_seconds_and_no_authorization_needed(platform, org):
    member = await platform.new_member(wait_for_claims=False)
    await wait_until_known(org, member)

    receipt = await submit(org, authorization_body(org, member, codes=("72148",), diagnoses=("M54.16",), units=1))
    assert receipt["status"] == "approved"
    view = (await org.client.get(f"/v1/authorizations/{receipt['authorization_id']}")).json()
    submitted, approved = view["timeline"][0], view["timeline"][-1]
    assert approved["status"] == "approved"
    assert (_at(approved["at"]) - _at(submitted["at"])).total_seconds() < 2
    assert view["decision"]["decided_by_role"] == "system"
    assert view["decision"]["rule"] == "imaging-lumbar-mri-radiculopathy"

    free = await submit(org, authorization_body(org, member, codes=("99213",), diagnoses=("I10",), units=1))
    assert free["status"] == "approved" and free["requirements"][0]["authorization_required"] is False
    assert free["decision"]["note"] == "no prior authorization required"


async def test_expedited_clock_404_across_organisations_audited_reads_and_every_problem_named(
        platform, running_stack, org):
    member = await platform.new_member(wait_for_claims=False)
    await wait_until_known(org, member)
    receipt = await submit(org, authorization_body(org, member, urgency="expedited"))
    assert _at(receipt["decision_due_at"]) - _at(receipt["submitted_at"]) == timedelta(hours=72)
    authorization_id = receipt["authorization_id"]

    other = await platform.new_organization()
    assert (await other.client.get(f"/v1/authorizations/{authorization_id}")).status_code == 404
    assert (await other.client.get(f"/v1/authorizations/{uuid.uuid4()}")).status_code == 404
    assert (await other.client.post(f"/v1/authorizations/{authorization_id}/cancellation")).status_code == 404
    listed = (await other.client.get("/v1/authorizations", params={"limit": 100})).json()["items"]
    assert authorization_id not in {item["authorization_id"] for item in listed}
    assert (await org.client.get(f"/v1/authorizations/{authorization_id}")).status_code == 200

    async def audited():
        records = [v["data"] for v, _ in await read_topic(running_stack.kafka_bootstrap, "audit.events")
                   if isinstance(v, dict) and v.get("subject") == f"authorizations/{authorization_id}"]
        outcomes = {(r["organization_id"], r["outcome"]) for r in records if r["action"] == "authorization.read"}
        return records if (other.organization_id, "denied") in outcomes and \
            (org.organization_id, "submitted") in outcomes else None

    await eventually(audited, timeout=30, what="the refused and the allowed read on audit.events")

    bad = authorization_body(org, member, codes=("7372", "99999"), diagnoses=("M17",), units=0,
                             start=date.today(), end=date.today() - timedelta(days=3))
    response = await org.client.post("/v1/authorizations", json=bad)
    assert response.status_code == 422
    assert {e["loc"] for e in response.json()["errors"]} == {"units"}  # the shape first
    bad["units"] = 1
    response = await org.client.post("/v1/authorizations", json=bad)
    assert response.status_code == 422
    assert {(e["loc"], e["code"]) for e in response.json()["errors"]} == {
        ("procedure_codes[0]", "invalid_procedure_code"), ("procedure_codes[1]", "unknown_procedure_code"),
        ("diagnosis_codes[0]", "non_billable_diagnosis_code"), ("end_date", "end_before_start")}
    stranger = {**bad, "member_id": "ZZ" + uuid.uuid4().hex[:10], "procedure_codes": ["73721"],
                "diagnosis_codes": ["M17.11"], "end_date": bad["start_date"]}
    wrong_birth = {**stranger, "member_id": member["member_id"], "date_of_birth": "1901-01-01"}
    answers = [(await org.client.post("/v1/authorizations", json=b)).json()["errors"] for b in (stranger, wrong_birth)]
    assert answers[0] == answers[1] == [{"loc": "member_id", "code": "member_not_found",
                                         "message": "No member with this id and date of birth."}]
