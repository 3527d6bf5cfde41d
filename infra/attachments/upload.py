"""A multipart/form-data upload read chunk by chunk from the ASGI stream, never whole.

Starlette's form parser spools the whole body before the route runs; here the body is
fed as it arrives to python-multipart's streaming parser, and each piece of the `file`
part goes straight to a sink (GridFS) while its size, SHA-256 and type are worked out
on the way. Memory stays at about one receive chunk plus the sink's buffer whatever
the file's size, and reading stops at the first byte past the limit (413).

The small text fields (`document_type`) may come before or after the file; the caller
checks them once the stream has ended, and aborts the sink if they are wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from python_multipart.multipart import MultipartParser, parse_options_header

from infra.attachments.policy import MAX_ATTACHMENT_BYTES, AttachmentRejected, Sniffer, SizeLimit

FILE_FIELD = "file"
MAX_FIELD_BYTES = 1024
"""A text field (document_type) is a code, not a document."""
MAX_FIELDS = 8


class Sink(Protocol):
    """Where the file's bytes go: opened at the file part's first byte."""

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...

    async def abort(self) -> None: ...


@dataclass
class UploadedFile:
    filename: str | None
    size: int
    sha256: str
    content_type: str
    declared_content_type: str | None


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: UploadedFile | None = None


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise AttachmentRejected(415, "unsupported_media_type",
                                 "the body must be multipart/form-data with a `file` part", loc="header.content-type")
    return boundary


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.name: str | None = None
        self.filename: str | None = None
        self.content_type: str | None = None
        self.value = bytearray()


class _Events:
    """python-multipart's callbacks are synchronous: they queue what happened, the reader awaits it."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, object]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, str] = {}

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda data, start, end: self.queue.append(("data", bytes(data[start:end]))),
            "on_part_end": lambda: self.queue.append(("end", None)),
        }

    def _begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        self.queue.append(("part", dict(self._headers)))


async def read_upload(
    chunks: AsyncIterator[bytes],
    content_type: str | None,
    sink: Sink,
    *,
    limit: int = MAX_ATTACHMENT_BYTES,
) -> UploadForm:
    """Reads the form from `chunks`, writing the file's bytes to `sink` as they come.

    On any rejection (400, 413, 415, 422) or error the sink is aborted and nothing is
    kept; on success the caller closes it (or aborts it, when a field is wrong).
    """
    parser = MultipartParser(boundary_of(content_type), callbacks=None)
    events = _Events()
    parser.callbacks = events.callbacks()
    form = UploadForm()
    size = SizeLimit(limit)
    sniffer = Sniffer.start()
    digest = hashlib.sha256()
    part: _Part | None = None
    file_parts = 0
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            try:
                parser.write(chunk)
            except Exception as exc:  # python-multipart raises its own errors on a broken body
                raise AttachmentRejected(400, "bad_multipart", "the multipart body is malformed", loc="body") from exc
            queued, events.queue = events.queue, []
            for kind, value in queued:
                if kind == "part":
                    part = _Part()
                    part.headers = value  # type: ignore[assignment]
                    disposition, options = parse_options_header(part.headers.get("content-disposition", ""))
                    part.name = options.get(b"name", b"").decode("utf-8", "replace")
                    raw_filename = options.get(b"filename")
                    part.filename = raw_filename.decode("utf-8", "replace")[:255] if raw_filename is not None else None
                    part.content_type = part.headers.get("content-type")
                    if part.name == FILE_FIELD:
                        file_parts += 1
                        if file_parts > 1:
                            raise AttachmentRejected(422, "one_file", "send exactly one `file` part")
                elif kind == "data":
                    assert part is not None
                    data: bytes = value  # type: ignore[assignment]
                    if part.name == FILE_FIELD:
                        size.add(len(data))
                        sniffer.feed(data)
                        digest.update(data)
                        await sink.write(data)
                    else:
                        part.value += data
                        if len(part.value) > MAX_FIELD_BYTES:
                            raise AttachmentRejected(422, "field_too_long", f"{part.name} is too long",
                                                     loc=part.name or "body")
                elif kind == "end":
                    assert part is not None
                    if part.name == FILE_FIELD:
                        form.file = UploadedFile(part.filename, size.count, "", "", part.content_type)
                    elif part.name:
                        if len(form.fields) >= MAX_FIELDS:
                            raise AttachmentRejected(422, "too_many_fields", "the form has too many fields",
                                                     loc="body")
                        form.fields[part.name] = part.value.decode("utf-8", "replace")
                    part = None
        parser.finalize()
        if form.file is None:
            raise AttachmentRejected(422, "missing", "the form has no `file` part", loc="file")
        content_type_sniffed = sniffer.verdict()
    except BaseException:
        await sink.abort()
        raise
    form.file.sha256 = digest.hexdigest()
    form.file.content_type = content_type_sniffed
    form.file.size = size.count
    return form
