"""Defence in depth: adjudication pays nobody its own membership copy cannot identify.

The claim.received is produced straight onto claims.events (a valid envelope and
payload, as the claims relay writes them) for a member id that was never enrolled:
this tests adjudication on its own, whatever the claims intake lets through.

The claims service has no such claim, so its decision consumer parks the decision
on adjudication.events.dlq at once (services/claims/decisions.py) and goes on.
"""

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta

from aiokafka import AIOKafkaProducer

from contracts.envelope import new_event
from contracts.events.claims import CLAIM_RECEIVED
from tests.support.kafka import read_topic
from tests.support.waiting import eventually


def _never_enrolled_member_id() -> str:
    # Eligibility issues M + 10 digits; the 9 prefix keeps clear of what a test enrolls.
    return f"M9{random.randrange(10**8, 10**9)}{random.randrange(10)}"


async def test_claim_for_a_member_unknown_to_adjudication_is_denied_co31_and_paid_nothing(running_stack):
    member_id = _never_enrolled_member_id()
    claim_id = str(uuid.uuid4())
    dos = (date.today() - timedelta(days=3)).isoformat()
    lines = [
        {"line_number": 1, "procedure_code": "99213", "modifiers": [], "units": 1, "charge_amount": "150.00",
         "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]},
        {"line_number": 2, "procedure_code": "83036", "modifiers": [], "units": 1, "charge_amount": "45.00",
         "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]},
    ]
    event = new_event(
        source="/services/claims", type=CLAIM_RECEIVED, subject=claim_id, aggregateversion=1,
        organizationid=str(uuid.uuid4()), partitionkey=member_id, correlationid=claim_id,
        data={
            "claim_id": claim_id, "organization_id": str(uuid.uuid4()),
            "received_at": datetime.now(UTC).isoformat(), "total_charge": "195.00",
            "fingerprint": uuid.uuid4().hex, "frequency_code": "1", "member_id": member_id,
            "patient_date_of_birth": "1980-02-03", "billing_provider": {"npi": "1234567893", "tin": "123456789"},
            "rendering_provider_npi": "1245319599", "diagnosis_codes": ["E11.9"], "lines": lines,
        },
    )
    trace_id = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=running_stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "claims.events", json.dumps(event.to_json_dict()).encode(), key=member_id.encode(),
            headers=[("traceparent", f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01".encode()),
                     ("ce_type", CLAIM_RECEIVED.encode()), ("ce_id", event.id.encode())],
        )
    finally:
        await producer.stop()

    async def decided():
        found = [(v, h) for v, h in await read_topic(running_stack.kafka_bootstrap, "adjudication.events")
                 if isinstance(v, dict) and v.get("type") == "claim.adjudicated" and v.get("subject") == claim_id]
        return found or None

    ((published, headers),) = await eventually(decided, timeout=60, what="the decision on adjudication.events")
    decision = published["data"]
    assert decision["outcome"] == "denied"
    assert [(ln["line_number"], ln["paid_amount"], ln["allowed_amount"], ln["patient_responsibility"],
             ln["adjustments"]) for ln in decision["lines"]] == [
        (1, "0.00", "0.00", "0.00", [{"group": "CO", "carc": "31", "amount": "150.00"}]),
        (2, "0.00", "0.00", "0.00", [{"group": "CO", "carc": "31", "amount": "45.00"}]),
    ]
    assert decision["totals"] == {"charge": "195.00", "allowed": "0.00", "paid": "0.00",
                                  "patient_responsibility": "0.00"}

    # Published like every other event (infra/publishing): keyed by member, typed,
    # identified, and in the trace of the claim that caused it.
    assert published["partitionkey"] == member_id and published["causationid"] == event.id
    assert headers["ce_type"] == b"claim.adjudicated" and headers["ce_id"] == published["id"].encode()
    assert headers["traceparent"].decode().split("-")[1] == trace_id
