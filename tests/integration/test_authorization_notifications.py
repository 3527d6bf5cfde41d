"""Authorization decisions reach the provider: a webhook per decision, verified with the
standardwebhooks library, and an email to the organisation's contacts, neither carrying
patient data (ids, status, units and dates of the approval only)."""

from __future__ import annotations

from tests.support.authorizations import authorization_body, reviewer, submit, wait_until_known
from tests.support.waiting import eventually
from tests.support.webhooks import Mailpit, Receiver, create_endpoint, until

TYPES = ["authorization.approved", "authorization.denied", "authorization.info_requested"]
NOTES = "Lumbar radiculopathy for 8 weeks despite physical therapy."


async def test_approved_denied_and_asked_arrive_as_webhooks_and_emails(platform, running_stack, org):
    member = await platform.new_member(dob="1958-02-03", wait_for_claims=False)
    await wait_until_known(org, member)
    desk = await reviewer(platform)
    receiver = await Receiver().start()
    mailpit = Mailpit(running_stack.stack.mail_url)
    try:
        endpoint = await create_endpoint(org.client, receiver.url, TYPES)
        receiver.secret = endpoint["secret"]

        approved = await submit(org, authorization_body(org, member, codes=("72148",), diagnoses=("M54.16",), units=1,
                                                        notes=NOTES))
        assert approved["status"] == "approved"
        denied = (await submit(org, authorization_body(org, member, notes=NOTES)))["authorization_id"]
        asked = (await submit(org, authorization_body(org, member, codes=("27447",), notes=NOTES)))["authorization_id"]
        for authorization_id, body in ((denied, {"decision": "denied", "reason_code": "not_medically_necessary"}),
                                       (asked, {"decision": "info_requested", "note": "Send the X-ray report."})):
            response = await desk.post(f"/v1/authorizations/{authorization_id}/decisions", json=body)
            assert response.status_code == 200, response.text

        expected = {("authorization.approved", approved["authorization_id"]), ("authorization.denied", denied),
                    ("authorization.info_requested", asked)}
        await until(lambda: expected <= receiver.delivered_events(), 90, "every decision at the receiver")
        assert not receiver.unverified(), "a request failed signature verification"
        assert receiver.delivered_events() == expected
        by_type = {r.payload["type"]: r.payload["data"] for r in receiver.verified()}
        assert by_type["authorization.approved"]["status"] == "approved"
        assert by_type["authorization.approved"]["approved_units"] == 1
        assert by_type["authorization.denied"] == {"authorization_id": denied, "reason_code": "not_medically_necessary",
                                                    "status": "denied"}
        assert by_type["authorization.info_requested"] == {"authorization_id": asked, "status": "info_requested"}
        for r in receiver.verified():
            text = r.body.decode()
            for phi in (member["member_id"], member["date_of_birth"], "M54.16", "M17.11", "72148", NOTES, "X-ray"):
                assert phi not in text, f"{phi!r} in a webhook body"

        for authorization_id in (approved["authorization_id"], denied, asked):
            (mail,) = await eventually(lambda a=authorization_id: mailpit.find(a), timeout=60,
                                       what=f"the email for {authorization_id}")
            assert "billing@clinic.example" in [t["Address"] for t in mail["To"]]
            raw = await mailpit.raw(mail["ID"])
            for phi in (member["member_id"], member["date_of_birth"], "1958", "M54.16", "72148", NOTES, "X-ray"):
                assert phi not in raw, f"{phi!r} in an email"
    finally:
        await receiver.stop()
        await mailpit.close()
