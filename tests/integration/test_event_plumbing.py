"""Dead letters, projection rebuilds and the outbox surviving a Kafka outage."""

import uuid

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from services.claims.rebuild import rebuild_claim_status
from services.claims.settings import ClaimsSettings
from tests.support.client import claim_body, wait_for_status
from tests.support.kafka import events_about, read_topic
from tests.support.stack import TEST_SERVICE_ENV
from tests.support.waiting import eventually


async def test_poison_event_is_dead_lettered_and_the_stream_goes_on(platform, running_stack, org):
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=running_stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("claims.events", b'{"not": "a cloudevent", "marker": "' + marker.encode() + b'"',
                                     key=marker.encode())
    finally:
        await producer.stop()

    async def parked():
        found = [h for v, h in await read_topic(running_stack.kafka_bootstrap, "claims.events.dlq")
                 if isinstance(v, bytes) and marker.encode() in v]
        return found or None

    headers = (await eventually(parked, what="the poison event on claims.events.dlq"))[0]
    assert headers["dlq.source_topic"] == b"claims.events"
    assert headers["dlq.error"]
    assert headers["dlq.error_type"]

    member = await platform.new_member()
    created = await org.client.post("/v1/claims", json=claim_body(org, member))
    await wait_for_status(org.client, created.json()["claim_id"], "processed")


async def test_rebuilt_claim_status_equals_the_live_one(platform, running_stack, org):
    member = await platform.new_member()
    ids = []
    for _ in range(3):
        created = await org.client.post("/v1/claims", json=claim_body(org, member, dos=None) | {
            "lines": [dict(claim_body(org, member)["lines"][0], charge_amount=f"{100 + len(ids)}.00")]})
        assert created.status_code == 201, created.text
        ids.append(created.json()["claim_id"])
    for claim_id in ids:
        await wait_for_status(org.client, claim_id, "processed")

    settings = ClaimsSettings(kafka_bootstrap_servers=running_stack.kafka_bootstrap,
                              mongodb_uri=running_stack.mongodb_uri,
                              mongodb_database_prefix=TEST_SERVICE_ENV["MONGODB_DATABASE_PREFIX"])
    client = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    try:
        db = client[settings.database_name]

        async def caught_up():
            # GET folds the event stream when the projection lags; the snapshot must not.
            docs = {d["_id"]: d async for d in db.claim_status.find({})}
            return docs if all(docs.get(i, {}).get("status") == "processed" for i in ids) else None

        live = await eventually(caught_up, what="the live projection to reach processed")
        applied = await rebuild_claim_status(settings, db)
        rebuilt = {d["_id"]: d async for d in db.claim_status.find({})}
    finally:
        await client.close()
    assert applied >= len(ids) * 2
    assert rebuilt == live


async def test_outbox_keeps_claims_through_a_kafka_outage_and_a_crash(platform, running_stack, org):
    stack = running_stack.stack
    member = await platform.new_member()
    # Let the claims service learn the member before Kafka goes away.
    warm = await org.client.post("/v1/claims", json=claim_body(org, member))
    await wait_for_status(org.client, warm.json()["claim_id"], "processed")

    stack.stop_kafka()
    try:
        body = claim_body(org, member, lines=[dict(claim_body(org, member)["lines"][0], charge_amount="321.00")])
        response = await org.client.post("/v1/claims", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 201, response.text
        claim_id = response.json()["claim_id"]
        stack.stop_service("claims", kill=True)  # kill -9: nothing gets to flush
    finally:
        stack.start_kafka()
    stack.start_service("claims")

    await wait_for_status(org.client, claim_id, "processed", timeout=120)
    received = [e for e in await events_about(running_stack.kafka_bootstrap, "claims.events", claim_id)
                if e["type"] == "claim.received"]
    assert len(received) == 1
