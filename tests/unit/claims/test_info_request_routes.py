"""The info request routes over HTTP (in process): an operator asks, the provider answers.

The claim lives in a fake repository holding the Claim aggregate's events in memory;
everything else (the routes, InfoRequests, the aggregate) is the real code.
"""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from claim_samples import submission
from infra.aggregates import Outcome
from infra.http.auth import Principal, authenticated
from infra.http.problems import install_problem_handlers
from services.claims import api
from services.claims.domain import Claim, info_request_id_for
from infra.messages import MessageStore
from services.claims.info_requests import MESSAGES, InfoRequests

OPERATOR = Principal(client_id="ops-1", role="operator")
PROVIDER = Principal(client_id="org-1-client", role="provider", organization_id="ORG-1")
STRANGER = Principal(client_id="org-2-client", role="provider", organization_id="ORG-2")
ASK = {"rarc": "m127", "message": "Send the operative note."}


class FakeClaims:
    def __init__(self) -> None:
        self.events: dict[str, list] = {}

    def receive(self, claim_id: str, received_at: datetime | None = None) -> None:
        self.events[claim_id] = Claim.receive(claim_id, submission(), organization_id="ORG-1",
                                              received_at=received_at or datetime.now(UTC))

    async def load(self, claim_id: str) -> Claim | None:
        events = self.events.get(claim_id)
        return Claim.from_events(events) if events else None

    async def execute(self, claim_id, decide, **_) -> Outcome:
        claim = await self.load(claim_id)
        new = decide(claim)
        for event in new:
            claim.apply(event)
        self.events[claim_id] = [*self.events[claim_id], *new]
        return Outcome(claim, claim.version, len(new))


class FakeMessages:
    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}

    async def update_one(self, query, update, upsert=False):
        self.docs.setdefault(query["_id"], dict(update["$setOnInsert"]))

    async def find_one(self, query):
        doc = self.docs.get(query["_id"])
        return {"_id": query["_id"], **doc} if doc else None


class FakeAttachments:
    """The claim C-1 has attachments att-1 and att-2; anything else is not one of its attachments."""

    async def foreign(self, owner_kind, owner_id, ids, loc="attachment_ids"):
        return [{"loc": f"{loc}[{i}]", "code": "unknown_attachment", "message": f"{a} is not an attachment"}
                for i, a in enumerate(ids) if not (owner_id == "C-1" and a in ("att-1", "att-2"))]


class FakeAudit:
    def __init__(self) -> None:
        self.records: list = []

    async def record(self, topic, event) -> None:
        self.records.append(event.data)


@pytest.fixture
def claims() -> FakeClaims:
    claims = FakeClaims()
    claims.receive("C-1")
    return claims


@pytest.fixture
def messages() -> FakeMessages:
    return FakeMessages()


@pytest.fixture
def audit() -> FakeAudit:
    return FakeAudit()


@pytest.fixture
def caller() -> dict:
    return {"value": OPERATOR}


@pytest.fixture
async def http(claims, messages, audit, caller):
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(api.router)
    info_requests = InfoRequests(claims, MessageStore({MESSAGES: messages}, MESSAGES), FakeAttachments(),
                                 default_due_days=45)
    app.dependency_overrides[api.get_info_requests] = lambda: info_requests
    app.dependency_overrides[api.get_audit_store] = lambda: audit
    app.dependency_overrides[authenticated] = lambda: caller["value"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _ask(http, caller, body=ASK, key=None, claim_id="C-1"):
    caller["value"] = OPERATOR
    return await http.post(f"/v1/claims/{claim_id}/info-requests", json=body,
                           headers={"Idempotency-Key": key} if key else {})


async def _answer(http, caller, request_id, body, who=PROVIDER, key=None, claim_id="C-1"):
    caller["value"] = who
    return await http.post(f"/v1/claims/{claim_id}/info-requests/{request_id}/responses", json=body,
                           headers={"Idempotency-Key": key} if key else {})


async def test_an_operator_asks_and_the_claim_waits(http, caller, claims, audit):
    response = await _ask(http, caller, key="k-1")
    assert response.status_code == 201, response.text
    body = response.json()
    today = datetime.now(UTC).date()
    assert {k: body[k] for k in ("claim_id", "carc", "rarc", "message", "status", "requested_by", "due_by")} == {
        "claim_id": "C-1", "carc": "16", "rarc": "M127", "message": "Send the operative note.", "status": "open",
        "requested_by": "operator", "due_by": (today + timedelta(days=45)).isoformat(),
    }
    claim = await claims.load("C-1")
    assert claim.status == "info_requested" and claim.open_info_request.info_request_id == body["info_request_id"]
    assert audit.records[-1]["action"] == "claim.info_request" and audit.records[-1]["member_id"] == "M-0001"

    replay = await _ask(http, caller, key="k-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == body
    other = await _ask(http, caller, body={**ASK, "due_in_days": 10}, key="k-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    second = await _ask(http, caller, body={**ASK, "rarc": "N350"}, key="k-2")
    assert second.status_code == 409 and second.json()["code"] == "invalid_claim_status"
    assert (await claims.load("C-1")).version == 2


async def test_a_request_is_checked(http, caller):
    assert (await _ask(http, caller, claim_id="C-NOPE")).status_code == 404
    bad = await _ask(http, caller, body={"rarc": "CO16", "message": "", "due_in_days": 0, "extra": 1})
    assert bad.status_code == 422
    assert {e["loc"] for e in bad.json()["errors"]} >= {"rarc", "message", "due_in_days", "extra"}
    lines = await _ask(http, caller, body={**ASK, "line_numbers": [3]})
    assert lines.status_code == 422 and lines.json()["errors"][0]["code"] == "unknown_line"
    caller["value"] = PROVIDER
    forbidden = await http.post("/v1/claims/C-1/info-requests", json=ASK)
    assert forbidden.status_code == 403


async def test_the_provider_answers_and_the_claim_goes_back_to_adjudication(http, caller, claims, messages):
    request_id = (await _ask(http, caller, body={**ASK, "due_in_days": 10})).json()["info_request_id"]
    response = await _answer(http, caller, request_id, {"message": "Attached.", "attachment_ids": ["att-1"]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "answered" and body["attachment_ids"] == ["att-1"] and body["answered_at"]
    claim = await claims.load("C-1")
    assert claim.status == "received" and claim.version == 3
    (stored,) = messages.docs.values()
    assert stored["body"] == "Attached." and stored["info_request_id"] == request_id
    assert body["message_id"] == next(iter(messages.docs))

    replay = await _answer(http, caller, request_id, {"message": "Attached.", "attachment_ids": ["att-1"]})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == body
    different = await _answer(http, caller, request_id, {"attachment_ids": ["att-2"]})
    assert different.status_code == 409 and different.json()["code"] == "info_request_answered"
    keyed = await _answer(http, caller, request_id, {"message": "Other."}, key="k-9")
    assert keyed.status_code == 409 and keyed.json()["code"] == "idempotency_conflict"
    assert (await claims.load("C-1")).version == 3


async def test_another_organisation_gets_404_and_unknown_requests_404(http, caller, claims, audit):
    request_id = (await _ask(http, caller)).json()["info_request_id"]
    stranger = await _answer(http, caller, request_id, {"attachment_ids": ["att-1"]}, who=STRANGER)
    assert stranger.status_code == 404
    assert audit.records[-1]["outcome"] == "denied"
    assert (await _answer(http, caller, "IR-NOPE", {"attachment_ids": ["a"]})).status_code == 404
    assert (await _answer(http, caller, request_id, {}, claim_id="C-NOPE")).status_code == 404
    operator = await _answer(http, caller, request_id, {}, who=OPERATOR)
    assert operator.status_code == 403
    assert (await claims.load("C-1")).status == "info_requested"


async def test_an_expired_request_cannot_be_answered(http, caller, claims):
    long_ago = datetime.now(UTC) - timedelta(days=60)
    claims.receive("C-2", received_at=long_ago)
    claim = await claims.load("C-2")
    lines = [{"line_number": n, "procedure_code": c, "charge_amount": a, "allowed_amount": "0.00",
              "deductible": "0.00", "copay": "0.00", "coinsurance": "0.00", "paid_amount": "0.00",
              "patient_responsibility": "0.00"} for n, c, a in ((1, "99213", "150.00"), (2, "83036", "25.00"))]
    await claims.execute("C-2", lambda c: c.apply_decision({
        "adjudication_id": "ADJ-X", "claim_id": "C-2", "claim_version": 1, "outcome": "info_requested",
        "adjudicated_at": long_ago.isoformat(), "lines": lines,
        "totals": {"charge": "175.00", "allowed": "0.00", "paid": "0.00", "patient_responsibility": "0.00"},
        "info_request": {"rarc": "N350", "line_numbers": [1], "message": "Describe the service."},
    }))
    assert claim.version == 1
    response = await _answer(http, caller, info_request_id_for("ADJ-X"), {}, claim_id="C-2")
    assert response.status_code == 409 and response.json()["code"] == "info_request_closed"


async def test_an_answer_naming_another_claims_attachment_is_refused_and_stores_nothing(http, caller, claims, messages):
    request_id = (await _ask(http, caller)).json()["info_request_id"]
    response = await _answer(http, caller, request_id, {"message": "See attached.",
                                                        "attachment_ids": ["att-1", "att-of-another-claim"]})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"loc": "attachment_ids[1]", "code": "unknown_attachment",
                                          "message": "att-of-another-claim is not an attachment"}]
    assert (await claims.load("C-1")).status == "info_requested" and messages.docs == {}
    fine = await _answer(http, caller, request_id, {"message": "See attached.", "attachment_ids": ["att-1"]})
    assert fine.status_code == 201, fine.text
