"""The attachment policy without I/O: sniffed types, the size limit, document types."""

import os

import pytest

from infra.attachments.policy import (
    JPEG, MAX_ATTACHMENT_BYTES, PDF, PNG, SNIFF_BYTES, TEXT, TIFF, XML, AttachmentRejected, Sniffer, SizeLimit,
    check_document_type, report_types,
)

PDF_BYTES = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" + os.urandom(20_000) + b"\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + os.urandom(5000)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + os.urandom(5000)


def verdict(data: bytes, piece: int = 4096) -> str:
    sniffer = Sniffer.start()
    for i in range(0, len(data), piece):
        sniffer.feed(data[i:i + piece])
    return sniffer.verdict()


@pytest.mark.parametrize(("data", "expected"), [
    (PDF_BYTES, PDF),
    (b"II*\x00\x08\x00\x00\x00" + os.urandom(3000), TIFF),
    (b"MM\x00*\x00\x00\x00\x08" + os.urandom(3000), TIFF),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(3000), JPEG),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(3000), PNG),
    ("Office notes: follow-up in two weeks.\nÜberweisung erhalten.\n".encode() * 400, TEXT),
    (b'<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3"/>', XML),
    (b'\xef\xbb\xbf  <ClinicalDocument xmlns="urn:hl7-org:v3"><title>Note</title></ClinicalDocument>', XML),
])
def test_allowed_types_are_read_from_the_bytes(data, expected):
    assert verdict(data) == expected
    assert verdict(data, piece=1) == expected  # however the stream is cut


@pytest.mark.parametrize("data", [ELF, WINDOWS_EXE, b"PK\x03\x04" + os.urandom(4000), os.urandom(10_000)])
def test_executables_archives_and_noise_are_refused_with_415(data):
    with pytest.raises(AttachmentRejected) as refused:
        verdict(data)
    assert refused.value.status == 415


def test_text_that_turns_binary_after_the_sniffed_head_is_refused():
    data = b"plain words " * (SNIFF_BYTES // 4) + b"\x00\x01\x02 payload"
    with pytest.raises(AttachmentRejected) as refused:
        verdict(data)
    assert refused.value.status == 415


def test_a_multibyte_character_cut_between_chunks_is_still_text():
    data = "é".encode() * 10_000
    assert verdict(data, piece=3) == TEXT


def test_an_empty_file_is_a_422():
    with pytest.raises(AttachmentRejected) as refused:
        Sniffer.start().verdict()
    assert (refused.value.status, refused.value.code) == (422, "empty_file")


def test_the_size_limit_refuses_the_first_byte_past_it():
    limit = SizeLimit(MAX_ATTACHMENT_BYTES)
    limit.add(MAX_ATTACHMENT_BYTES)  # exactly 25 MiB is allowed
    with pytest.raises(AttachmentRejected) as refused:
        limit.add(1)
    assert refused.value.status == 413


@pytest.mark.parametrize("code", ["03", "09", "OB", "RR", "LA", "77", "ob"])
def test_pwk_report_types_are_data(code):
    assert check_document_type(code) == code.upper()
    assert code.upper() in report_types()


@pytest.mark.parametrize("code", ["", None, "ZZ", "999", "pdf"])
def test_an_unknown_or_missing_document_type_is_a_422(code):
    with pytest.raises(AttachmentRejected) as refused:
        check_document_type(code)
    assert (refused.value.status, refused.value.loc) == (422, "document_type")
