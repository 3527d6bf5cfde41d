"""Attachments end to end through the gateway, stored in GridFS on the test stack's server.

A 20 MiB PDF goes up and comes back byte for byte; the claims process's peak resident
memory during the upload is measured from /proc (its high-water mark reset first) and
must grow by far less than the file. Past 25 MiB: 413; an executable renamed .pdf: 415;
another organisation: 404 for the list, the metadata and the content.
"""

import asyncio
import hashlib
import json
import os
import uuid
from pathlib import Path

import httpx

from tests.support.client import claim_body
from tests.support.kafka import events_about
from tests.support.waiting import eventually

MIB = 1024 * 1024


def _pid_of(running_stack, name: str) -> int:
    record = json.loads((running_stack.stack.run_dir / f"{name}.pid").read_text())
    return int(record["pid"])


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def _reset_peak(pid: int) -> bool:
    """Resets VmHWM to the current RSS (Linux: `5` into clear_refs); False where not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def pdf_of(size: int) -> bytes:
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    tail = b"\n%%EOF\n"
    return head + os.urandom(size - len(head) - len(tail)) + tail


async def _claim(platform, org) -> str:
    member = await platform.new_member()
    created = await org.client.post("/v1/claims", json=claim_body(org, member),
                                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    return created.json()["claim_id"]


async def upload(client: httpx.AsyncClient, claim_id: str, content, *, filename="note.pdf",
                 content_type="application/pdf", document_type="OB", headers=None) -> httpx.Response:
    return await client.post(f"/v1/claims/{claim_id}/attachments", data={"document_type": document_type},
                             files={"file": (filename, content, content_type)}, headers=headers or {},
                             timeout=120)


async def test_a_20_mib_pdf_goes_up_streamed_and_comes_back_the_same(platform, running_stack, org):
    claim_id = await _claim(platform, org)
    data = pdf_of(20 * MIB)
    pid = _pid_of(running_stack, "claims")
    # A small upload first, so the first one's one-off costs (imports, buffers) are not counted.
    warm = await upload(org.client, claim_id, pdf_of(2 * MIB))
    assert warm.status_code == 201, warm.text
    rss_before = _status_kib(pid, "VmRSS")
    measured = _reset_peak(pid)
    response = await upload(org.client, claim_id, data, headers={"Idempotency-Key": "up-20"})
    assert response.status_code == 201, response.text
    growth_mib = (_status_kib(pid, "VmHWM") - rss_before) / 1024
    print(f"\nclaims process peak RSS growth during a 20 MiB upload: {growth_mib:.1f} MiB")
    if measured:
        assert growth_mib < 5, f"peak memory grew {growth_mib:.1f} MiB for a 20 MiB upload"

    receipt = response.json()
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest() and receipt["size"] == len(data)
    assert (receipt["content_type"], receipt["document_type"], receipt["claim_id"]) == ("application/pdf", "OB",
                                                                                        claim_id)
    attachment_id = receipt["attachment_id"]

    # The same upload again with its key: the same attachment, nothing new stored.
    again = await upload(org.client, claim_id, data, headers={"Idempotency-Key": "up-20"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == receipt
    other = await upload(org.client, claim_id, pdf_of(MIB), headers={"Idempotency-Key": "up-20"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"

    digest, size = hashlib.sha256(), 0
    async with org.client.stream("GET", f"/v1/attachments/{attachment_id}/content", timeout=120) as download:
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["content-length"] == str(len(data))
        async for piece in download.aiter_bytes():
            digest.update(piece)
            size += len(piece)
    assert size == len(data) and digest.hexdigest() == receipt["sha256"]

    listed = (await org.client.get(f"/v1/claims/{claim_id}/attachments")).json()["items"]
    assert [a["attachment_id"] for a in listed] == [warm.json()["attachment_id"], attachment_id]

    # The download is an audited read of the patient's data.
    async def audited():
        records = await events_about(running_stack.kafka_bootstrap, "audit.events",
                                     f"claims/{claim_id}/attachments/{attachment_id}")
        return [r for r in records if r["data"]["action"] == "claim.attachment.download"]

    (access,) = await eventually(audited, what="the download's audit record")
    assert access["data"]["organization_id"] == org.organization_id and access["data"]["member_id"]


async def _post_reading_as_we_send(base_url: str, path: str, token: str, content_type: str,
                                   parts, content_length: int | None) -> tuple[int, dict, int]:
    """POST like a browser or curl does: the answer is read while the body is still going out,
    so an early 413 is seen (httpx writes the whole body first, and a server that stops
    reading resets the connection under it). Returns (status, problem, bytes sent)."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = [f"POST {path} HTTP/1.1", f"Host: {url.host}:{url.port}", f"Authorization: Bearer {token}",
            f"Content-Type: {content_type}", "Connection: close"]
    head.append(f"Content-Length: {content_length}" if content_length is not None else "Transfer-Encoding: chunked")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    sent = 0

    async def send() -> None:
        nonlocal sent
        try:
            for part in parts:
                writer.write(part if content_length is not None else b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
                sent += len(part)
            if content_length is None:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server stopped reading: expected once it has answered

    sender = asyncio.create_task(send())
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=60)
        status = int(status_line.split()[1])
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            body = b""
            while (size := int((await reader.readline()).strip() or b"0", 16)) > 0:
                body += await reader.readexactly(size)
                await reader.readline()
        assert headers["content-type"] == "application/problem+json", headers
        return status, json.loads(body), sent
    finally:
        sender.cancel()
        writer.close()


async def test_too_large_wrong_type_empty_and_unknown_document_type_are_refused(platform, org):
    claim_id = await _claim(platform, org)
    token = org.client.headers["Authorization"].removeprefix("Bearer ")
    boundary = "b-" + uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"document_type\"\r\n\r\nOB\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = os.urandom(MIB)

    def body():
        yield head
        for _ in range(26):
            yield block
        yield tail

    size = len(head) + 26 * MIB + len(tail)
    path = f"/v1/claims/{claim_id}/attachments"
    content_type = f"multipart/form-data; boundary={boundary}"
    # A declared 26 MiB is refused before any of it is read: the answer comes with no byte sent.
    status, problem, sent = await _post_reading_as_we_send(platform.base_url, path, token, content_type, [], size)
    assert (status, problem["code"]) == (413, "payload_too_large")
    # Chunked (no length declared): the service reads up to the limit, then answers.
    status, problem, sent = await _post_reading_as_we_send(platform.base_url, path, token, content_type, body(), None)
    assert (status, problem["code"]) == (413, "payload_too_large"), problem
    assert problem["errors"][0]["loc"] == "file"

    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + os.urandom(100_000)
    renamed = await upload(org.client, claim_id, elf, filename="report.pdf")
    assert renamed.status_code == 415, renamed.text
    assert renamed.json()["code"] == "unsupported_media_type"
    empty = await upload(org.client, claim_id, b"")
    assert empty.status_code == 422 and empty.json()["errors"][0]["code"] == "empty_file"
    unknown = await upload(org.client, claim_id, pdf_of(10_000), document_type="ZZ")
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [{"loc": "document_type", "code": "unknown_document_type",
                                         "message": unknown.json()["errors"][0]["message"]}]
    # Nothing of the refused uploads is listed.
    assert (await org.client.get(f"/v1/claims/{claim_id}/attachments")).json()["items"] == []
    text = await upload(org.client, claim_id, "Follow-up in two weeks.\n".encode(), filename="x.bin",
                        content_type="application/octet-stream", document_type="09")
    assert text.status_code == 201 and text.json()["content_type"] == "text/plain"


async def test_another_organisation_gets_404_for_the_attachment_and_its_content(platform, org):
    claim_id = await _claim(platform, org)
    attachment_id = (await upload(org.client, claim_id, pdf_of(50_000))).json()["attachment_id"]
    stranger = await platform.new_organization()
    try:
        for path in (f"/v1/attachments/{attachment_id}", f"/v1/attachments/{attachment_id}/content",
                     f"/v1/claims/{claim_id}/attachments", "/v1/attachments/no-such-attachment/content"):
            response = await stranger.client.get(path)
            assert response.status_code == 404, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        foreign = await upload(stranger.client, claim_id, pdf_of(10_000))
        assert foreign.status_code == 404
    finally:
        await stranger.client.aclose()
    operator = await platform.operator()
    assert (await operator.get(f"/v1/attachments/{attachment_id}")).status_code == 200  # the payer sees it
