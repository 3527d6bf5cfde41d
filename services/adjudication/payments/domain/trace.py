"""EFT trace numbers: the 835 TRN segment's role, unique across every run.

TRN02 (the trace number) is "1" + the payer's 9-digit identifier + the sequence
zero-padded to 10 digits: 20 digits, well inside TRN02's 50 characters. The sequence
comes from one counter shared by all runs (ADR 15: a counter document, stored on the
remittance before use), so two traces are equal only when the sequences are.
"""

from __future__ import annotations

import re

SEQUENCE_DIGITS = 10
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1
_PAYER_ID = re.compile(r"[0-9]{9}")
_TRACE = re.compile(r"1([0-9]{9})([0-9]{10})")


def eft_trace_number(payer_id: str, sequence: int) -> str:
    """The trace of the payer's sequence-th payment; deterministic, one-to-one."""
    if not _PAYER_ID.fullmatch(payer_id):
        raise ValueError("payer id must be 9 digits")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be an integer from 1 to {MAX_SEQUENCE}")
    return f"1{payer_id}{sequence:0{SEQUENCE_DIGITS}d}"


def parse_eft_trace_number(trace: str) -> tuple[str, int]:
    """(payer id, sequence) of a trace eft_trace_number made."""
    match = _TRACE.fullmatch(trace)
    if not match or int(match.group(2)) == 0:
        raise ValueError("not an EFT trace number of this platform")
    return match.group(1), int(match.group(2))
