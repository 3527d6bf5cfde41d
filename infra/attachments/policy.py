"""What an attachment may be: its size, its sniffed type, its X12 PWK report type. Pure, no I/O.

The type is decided from the bytes, never from the client's Content-Type or file name:
puremagic's signatures for the binary formats (PDF, TIFF, JPEG, PNG, XML with a prolog),
and a rule of our own for text, which has no signature: valid UTF-8 without control
characters, over the whole file (an executable renamed .txt fails somewhere in its
bytes, even when its first kilobytes happen to look like text). Text whose first
character is "<" is XML (a C-CDA document often has no `<?xml` prolog).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import puremagic

MIB = 1024 * 1024
MAX_ATTACHMENT_BYTES = 25 * MIB
SNIFF_BYTES = 8192
"""How much of the head the signatures look at (puremagic's deepest offsets are well within)."""

PDF, TIFF, JPEG, PNG, TEXT, XML = (
    "application/pdf", "image/tiff", "image/jpeg", "image/png", "text/plain", "application/xml",
)
ALLOWED_TYPES = (PDF, TIFF, JPEG, PNG, TEXT, XML)
_BINARY = frozenset({PDF, TIFF, JPEG, PNG, XML})
# Control characters that plain text may carry: tab, line feed, form feed, carriage return.
_TEXT_CONTROLS = frozenset("\t\n\f\r")


class AttachmentRejected(Exception):
    """The upload is not acceptable; `status` is the HTTP answer (413, 415, 422)."""

    def __init__(self, status: int, code: str, message: str, loc: str = "file") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.loc = loc


@cache
def report_types() -> dict[str, str]:
    """X12 PWK01 report type code -> what it is (refdata/pwk_report_types.json)."""
    text = resources.files("refdata").joinpath("pwk_report_types.json").read_text()
    return dict(json.loads(text)["codes"])


def check_document_type(code: str | None) -> str:
    value = (code or "").strip().upper()
    if not value:
        raise AttachmentRejected(422, "missing", "document_type is required (an X12 PWK report type code)",
                                 loc="document_type")
    if value not in report_types():
        raise AttachmentRejected(422, "unknown_document_type",
                                 "not an X12 PWK report type code this plan takes (e.g. 03, 09, OB, RR, LA, 77)",
                                 loc="document_type")
    return value


def sniff_signature(head: bytes) -> str | None:
    """The allowed binary type the head's signature names, or None (no signature, or another one)."""
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return None
    if not matches:
        return None
    best = max(match.confidence for match in matches)
    for match in matches:
        if match.confidence == best and match.mime_type in _BINARY:
            return match.mime_type
    return None


class TextCheck:
    """Incremental: is the whole stream UTF-8 text without control characters?"""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self.ok = True
        self.first_char: str | None = None

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if not self.ok:
            return
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            self.ok = False
            return
        if self.first_char is None:
            stripped = text.lstrip("\ufeff \t\r\n")
            if stripped:
                self.first_char = stripped[0]
        if any(ch < " " and ch not in _TEXT_CONTROLS for ch in text) or "\x7f" in text:
            self.ok = False


@dataclass
class Sniffer:
    """Decides the content type as the bytes go by, without keeping them.

    Feed every chunk in order, then `verdict()` after the last: the signature of the
    first SNIFF_BYTES, or text when the whole stream is text; AttachmentRejected 415
    otherwise, 422 for an empty file.
    """

    head: bytearray
    text: TextCheck
    size: int = 0
    signature: str | None = None
    decided_head: bool = False

    @classmethod
    def start(cls) -> Sniffer:
        return cls(bytearray(), TextCheck())

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if not self.decided_head:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
            if len(self.head) >= SNIFF_BYTES:
                self._decide_head()
        if self.signature is None:
            self.text.feed(chunk)

    def _decide_head(self) -> None:
        self.decided_head = True
        self.signature = sniff_signature(bytes(self.head))

    def verdict(self) -> str:
        if self.size == 0:
            raise AttachmentRejected(422, "empty_file", "the file is empty")
        if not self.decided_head:
            self._decide_head()
        if self.signature is not None:
            return self.signature
        self.text.feed(b"", final=True)
        # Executables and archives carry NUL and control bytes: they fail as text.
        if self.text.ok:
            return XML if self.text.first_char == "<" else TEXT
        raise AttachmentRejected(
            415, "unsupported_media_type",
            "the content is not PDF, TIFF, JPEG, PNG, plain text or XML (the type is read from the bytes)",
        )


class SizeLimit:
    """Counts bytes and refuses the first one past the limit (so no more than it is ever read)."""

    def __init__(self, limit: int = MAX_ATTACHMENT_BYTES) -> None:
        self.limit = limit
        self.count = 0

    def add(self, n: int) -> None:
        self.count += n
        if self.count > self.limit:
            raise AttachmentRejected(413, "payload_too_large", f"an attachment is at most {self.limit} bytes")
