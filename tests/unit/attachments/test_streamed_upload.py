"""The multipart reader streams: a 20 MiB upload passes through with a bounded peak of memory.

No I/O: the body is generated piece by piece and the sink only counts, so what
tracemalloc sees is the reader's own memory (the parser, the hash, the sniffer).
"""

import hashlib
import os
import tracemalloc

import pytest

from infra.attachments.policy import MIB, AttachmentRejected
from infra.attachments.upload import read_upload

BOUNDARY = "----test-boundary-7f3a"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


class CountingSink:
    def __init__(self) -> None:
        self.size = 0
        self.digest = hashlib.sha256()
        self.aborted = False

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self.digest.update(data)

    async def close(self) -> None:
        pass

    async def abort(self) -> None:
        self.aborted = True


def _field(name: str, value: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()


async def body(size: int, *, head: bytes = b"%PDF-1.7\n", document_type_first: bool = True, piece: int = 65536):
    """A multipart body with a `size`-byte file, made on the fly (never whole)."""
    if document_type_first:
        yield _field("document_type", "OB")
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.pdf\"\r\n"
           "Content-Type: application/pdf\r\n\r\n").encode()
    yield head
    block = os.urandom(piece)
    sent = len(head)
    while sent < size:
        n = min(piece, size - sent)
        yield block[:n]
        sent += n
    yield b"\r\n"
    if not document_type_first:
        yield _field("document_type", "OB")
    yield f"--{BOUNDARY}--\r\n".encode()


async def test_a_20_mib_upload_streams_with_a_small_peak():
    sink = CountingSink()
    tracemalloc.start()
    try:
        form = await read_upload(body(20 * MIB), CONTENT_TYPE, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert form.file.size == sink.size == 20 * MIB
    assert form.file.sha256 == sink.digest.hexdigest()
    assert form.file.content_type == "application/pdf" and form.fields == {"document_type": "OB"}
    print(f"\nreader peak for a 20 MiB upload: {peak / MIB:.2f} MiB")
    assert peak < 1 * MIB  # a few receive chunks, never the file


async def test_the_document_type_may_follow_the_file():
    form = await read_upload(body(300_000, document_type_first=False), CONTENT_TYPE, CountingSink())
    assert form.fields["document_type"] == "OB" and form.file.size == 300_000


async def test_reading_stops_at_the_limit_and_the_sink_is_aborted():
    sink = CountingSink()
    with pytest.raises(AttachmentRejected) as refused:
        await read_upload(body(2 * MIB), CONTENT_TYPE, sink, limit=1 * MIB)
    assert refused.value.status == 413
    assert sink.aborted and sink.size <= 1 * MIB


async def test_a_renamed_executable_is_refused_after_streaming_and_nothing_is_kept():
    sink = CountingSink()
    with pytest.raises(AttachmentRejected) as refused:
        await read_upload(body(200_000, head=b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), CONTENT_TYPE, sink)
    assert refused.value.status == 415 and sink.aborted


async def test_not_multipart_is_a_415_and_no_file_a_422():
    async def nothing():
        yield b"{}"

    with pytest.raises(AttachmentRejected) as refused:
        await read_upload(nothing(), "application/json", CountingSink())
    assert refused.value.status == 415

    async def only_a_field():
        yield _field("document_type", "OB") + f"--{BOUNDARY}--\r\n".encode()

    with pytest.raises(AttachmentRejected) as refused:
        await read_upload(only_a_field(), CONTENT_TYPE, CountingSink())
    assert (refused.value.status, refused.value.loc) == (422, "file")
