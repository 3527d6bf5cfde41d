"""No process's log carries patient data, whatever fails; every service logs JSON in
the allow-list format (the faust adjudication worker included).

A test patient with unmistakable name and birth date is enrolled and billed for,
then every process is made to fail on input that quotes them: poison events on each
topic a service consumes (payloads whose validation errors repeat the offending
values) and bad HTTP requests to each API. Then every log file the stack wrote is
read: the current run of each process, from its start line on.
"""

import json
import random
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from infra.logging import ENTRY_FIELDS, SAFE_FIELDS
from tests.support.client import claim_body, wait_for_status
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

PYTHON_SERVICES = ("identity", "eligibility", "claims", "adjudication")
# Where each poison event is parked, and by which consumer groups.
EXPECTED_DEAD_LETTERS = {
    "membership.events.dlq": {"claims-members", "adjudication-members"},
    "claims.events.dlq": {"adjudication", "claims-status-projection"},
    "adjudication.events.dlq": {"claims-decisions", "eligibility-accumulators"},
}


def _patient() -> dict:
    suffix = "".join(random.choice("bcdfghjklmnpqrstvwxz") for _ in range(6)).capitalize()
    return {"first_name": "Zephyrine", "last_name": f"Quillfeather{suffix}",
            "date_of_birth": f"19{random.randrange(40, 70)}-11-{random.randrange(10, 28)}"}


def _envelope(event_type: str, subject: str, partition_key: str, data: dict, marker: str) -> dict:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/tests/poison", "type": event_type,
            "subject": subject, "time": datetime.now(UTC).isoformat(), "datacontenttype": "application/json",
            "aggregateversion": 1, "partitionkey": partition_key, "poison_marker": marker, "data": data}


def _poison(patient: dict, member_id: str, marker: str) -> dict[str, list[dict]]:
    quoted = f"{patient['first_name']} {patient['last_name']} {patient['date_of_birth']} {member_id}"
    claim_id = str(uuid.uuid4())
    return {
        # extra="forbid" and a non-date birth date: both errors quote the input.
        "membership.events": [_envelope("member.enrolled", member_id, member_id, {
            "member_id": member_id, "first_name": patient["first_name"], "last_name": patient["last_name"],
            "date_of_birth": quoted, "gender": "female", "plan_id": "silver-hmo-2026",
            "coverage_start": "2026-01-01", "nickname": quoted}, marker)],
        "claims.events": [_envelope("claim.received", claim_id, member_id, {
            "claim_id": claim_id, "member_id": member_id, "patient_date_of_birth": quoted,
            "lines": [{"line_number": quoted}]}, marker)],
        "adjudication.events": [
            _envelope("accumulators.applied", member_id, member_id, {
                "member_id": member_id, "plan_id": "silver-hmo-2026", "plan_year": quoted,
                "deductible_applied": quoted, "out_of_pocket_applied": "0.00", "claim_id": claim_id,
                "adjudication_id": str(uuid.uuid4())}, marker),
            _envelope("claim.adjudicated", claim_id, member_id, {
                "adjudication_id": str(uuid.uuid4()), "claim_id": claim_id, "claim_version": quoted,
                "outcome": quoted, "adjudicated_at": quoted, "lines": [], "totals": {}}, marker),
        ],
    }


async def _bad_requests(platform, org, patient: dict, member_id: str) -> None:
    quoted = f"{patient['first_name']} {patient['last_name']} {patient['date_of_birth']}"
    operator = await platform.operator()
    # identity: a token request and an organisation that quote the patient
    refused = await platform.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": member_id, "client_secret": quoted})
    assert refused.status_code in (400, 401), refused.text
    invalid = await operator.post("/v1/admin/provider-organizations", json={
        "name": quoted, "tin": quoted, "npis": [member_id], "contact_emails": [patient["last_name"]]})
    assert invalid.status_code == 422, invalid.text
    # eligibility: enrolment and checks with the patient's data in the wrong places
    invalid = await operator.post("/v1/admin/members", json={
        "first_name": patient["first_name"], "last_name": patient["last_name"], "date_of_birth": quoted,
        "gender": quoted, "plan_id": member_id, "coverage_start": patient["date_of_birth"]})
    assert invalid.status_code == 422, invalid.text
    invalid = await org.client.post("/v1/eligibility/checks", json={
        "member_id": member_id, "date_of_birth": quoted, "date_of_service": patient["last_name"]})
    assert invalid.status_code == 422, invalid.text
    answered = await org.client.post("/v1/eligibility/checks", json={
        "member_id": member_id, "date_of_birth": patient["date_of_birth"], "date_of_service": "2026-03-01"})
    assert answered.status_code == 200, answered.text
    # claims: a claim that fails its edits, and a search by member id in the query string
    body = claim_body(org, {"member_id": member_id, "date_of_birth": patient["date_of_birth"]})
    invalid = await org.client.post("/v1/claims", json=body | {"patient_date_of_birth": quoted,
                                                               "diagnosis_codes": [patient["last_name"]]})
    assert invalid.status_code == 422, invalid.text
    searched = await org.client.get("/v1/claims", params={"member_id": member_id, "status": quoted})
    assert searched.status_code in (200, 422), searched.text
    missing = await org.client.get(f"/v1/claims/{member_id}")
    assert missing.status_code == 404, missing.text


def _current_run(text: str) -> list[str]:
    """The lines the running process wrote: after the stack's last start line."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("===== ")]
    return lines[starts[-1] + 1:] if starts else lines


async def test_no_log_carries_patient_data_and_every_service_logs_allow_listed_json(platform, running_stack, org):
    operator = await platform.operator()
    patient = _patient()
    enrolled = await operator.post("/v1/admin/members", json=patient | {
        "gender": "female", "plan_id": "silver-hmo-2026", "coverage_start": "2026-01-01"})
    assert enrolled.status_code == 201, enrolled.text
    member = enrolled.json()
    member_id = member["member_id"]
    await platform.wait_until_claims_know(member)

    # The happy path first: the patient's claim is adjudicated (so adjudication's
    # coverage copy knows them) and paid, with their data flowing through every service.
    created = await org.client.post("/v1/claims", json=claim_body(org, member))
    assert created.status_code == 201, created.text
    await wait_for_status(org.client, created.json()["claim_id"], "processed")

    await _bad_requests(platform, org, patient, member_id)
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=running_stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for topic, events in _poison(patient, member_id, marker).items():
            for event in events:
                await producer.send_and_wait(topic, json.dumps(event).encode(), key=member_id.encode())
    finally:
        await producer.stop()

    async def parked():
        for dlq, groups in EXPECTED_DEAD_LETTERS.items():
            seen = {h.get("dlq.consumer_group", b"").decode() for v, h in await read_topic(running_stack.kafka_bootstrap, dlq)
                    if isinstance(v, dict) and v.get("poison_marker") == marker}
            if not groups <= seen:
                return None
        return True

    await eventually(parked, timeout=90, what="every poison event parked by every consumer of its topic")

    log_dir = running_stack.stack.log_dir

    def logs() -> dict[str, list[str]]:
        return {path.stem: _current_run(path.read_text(errors="replace")) for path in sorted(log_dir.glob("*.log"))}

    # A parked event is logged right after the broker acknowledged it. Counted in the
    # raw text, whatever its format, so that a wrong format fails the assertions below.
    dead_lettered = {"claims": 3, "eligibility": 1, "adjudication": 2}

    async def errors_logged():
        current = logs()
        counts = {name: sum("event dead-lettered" in line for line in current.get(name, [])) for name in dead_lettered}
        return current if all(counts[name] >= n for name, n in dead_lettered.items()) else None

    current = await eventually(errors_logged, timeout=30, what="the dead-lettered events in the services' logs")

    assert set(PYTHON_SERVICES) <= set(current), f"missing logs: {sorted(current)}"
    secrets = [patient["first_name"], patient["last_name"], patient["date_of_birth"], member_id,
               member_id.lower()]
    leaks = [f"{name}.log: {line[:300]}" for name, lines in current.items() for line in lines
             if any(secret in line for secret in secrets)]
    assert leaks == [], "patient data in the logs:\n" + "\n".join(leaks)

    allowed = ENTRY_FIELDS | SAFE_FIELDS
    malformed = []
    for name in PYTHON_SERVICES:
        for line in current[name]:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                malformed.append(f"{name}.log (not JSON): {line[:200]}")
                continue
            if not isinstance(entry, dict) or not {"ts", "level", "logger", "service", "msg"} <= set(entry) \
                    or not set(entry) <= allowed or entry["service"] != name:
                malformed.append(f"{name}.log (not the allow-list format): {line[:200]}")
    assert malformed == [], "\n".join(malformed)

    # The worker's parked poison is logged with where it failed, not what it said.
    located = [json.loads(line) for line in current["adjudication"]
               if line.startswith("{") and '"event dead-lettered"' in line and '"frames"' in line]
    assert located and all({"file", "line", "function"} == set(f) for e in located for f in e["frames"])
