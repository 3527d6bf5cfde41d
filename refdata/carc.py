"""CARC descriptions (X12's published list, abridged) and the platform's hint per code."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

_FILE = Path(__file__).resolve().parent / "carc.json"


@cache
def catalogue() -> Mapping[str, Mapping[str, object]]:
    return MappingProxyType(json.loads(_FILE.read_text())["codes"])


def describe(carc: str) -> dict[str, str | None]:
    entry = catalogue().get(carc, {})
    return {"description": entry.get("description"), "hint": entry.get("hint")}
