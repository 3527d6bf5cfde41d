"""Network contracts are events: each change reaches network.events, keyed by the organisation."""

import json
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.support.eligibility import check, days, service, set_contract, today
from tests.support.waiting import eventually

TOPIC = "network.events"


async def contract_events(bootstrap: str, organization_id: str) -> list[tuple[bytes, dict]]:
    """(Kafka key, CloudEvent) of every network.events record about the organisation, in topic order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
        tps = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC) or ())]
        assert tps, "network.events was not created"
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        found = []
        pending = {tp for tp in tps if end[tp] > 0}
        while pending:
            for tp, records in (await consumer.getmany(*pending, timeout_ms=1000)).items():
                for record in records:
                    event = json.loads(record.value)
                    if record.offset < end[tp] and event.get("subject") == organization_id:
                        found.append((record.key, event))
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return found
    finally:
        await consumer.stop()


async def wait_for_events(bootstrap: str, organization_id: str, count: int) -> list[tuple[bytes, dict]]:
    async def probe():
        found = await contract_events(bootstrap, organization_id)
        return found if len(found) >= count else None

    return await eventually(probe, timeout=30.0, interval=0.5, what=f"{count} contract event(s) for {organization_id}")


async def test_a_contract_change_is_published_once_per_change(running_stack, operator):
    organization_id = f"org-{uuid.uuid4().hex[:12]}"
    await set_contract(operator, organization_id, ["silver-hmo-2026", "gold-hmo-2026"])
    [(key, first)] = await wait_for_events(running_stack.kafka_bootstrap, organization_id, 1)
    assert key == organization_id.encode()
    assert (first["type"], first["source"], first["aggregateversion"]) == (
        "network_contract.updated", "/services/eligibility", 1)
    assert first["partitionkey"] == first["organizationid"] == organization_id
    assert first["data"]["organization_id"] == organization_id
    assert first["data"]["plan_ids"] == ["gold-hmo-2026", "silver-hmo-2026"]
    assert first["data"]["updated_at"].endswith("Z") or first["data"]["updated_at"].endswith("+00:00")

    # The same contract again (in another order, by PUT) is no change; a real change is the next version.
    same = await operator.put(f"/v1/admin/network-contracts/{organization_id}",
                              json={"organization_id": organization_id, "plan_ids": ["gold-hmo-2026", "silver-hmo-2026"]})
    assert same.status_code == 200, same.text
    assert same.json() == {"organization_id": organization_id, "plan_ids": ["gold-hmo-2026", "silver-hmo-2026"]}
    changed = await operator.put(f"/v1/admin/network-contracts/{organization_id}",
                                 json={"organization_id": organization_id, "plan_ids": ["gold-hmo-2026"]})
    assert changed.json() == {"organization_id": organization_id, "plan_ids": ["gold-hmo-2026"]}
    events = await wait_for_events(running_stack.kafka_bootstrap, organization_id, 2)
    assert [(e["aggregateversion"], e["data"]["plan_ids"]) for _, e in events] == [
        (1, ["gold-hmo-2026", "silver-hmo-2026"]), (2, ["gold-hmo-2026"])]
    got = await operator.get(f"/v1/admin/network-contracts/{organization_id}")
    assert got.json() == {"organization_id": organization_id, "plan_ids": ["gold-hmo-2026"]}


async def test_checks_follow_the_contract_stream(platform, operator, org):
    member = await platform.new_member(plan_id="gold-hmo-2026", coverage_start=(today() - days(30)).isoformat())
    dos = today() - days(1)
    await set_contract(operator, org.organization_id, ["silver-hmo-2026"])
    assert service(await check(org.client, member["member_id"], dos, codes=["99213"]), "99213")["in_network"] is False
    await set_contract(operator, org.organization_id, ["gold-hmo-2026", "silver-hmo-2026"])
    answer = await check(org.client, member["member_id"], dos, codes=["99213"])
    assert service(answer, "99213")["in_network"] is True  # this replica reads its own write at once
    unknown = await operator.get(f"/v1/admin/network-contracts/org-{uuid.uuid4().hex[:12]}")
    assert unknown.json()["plan_ids"] == []
