"""Stored remittances: a header document per remittance, its claims in chunk documents.

An organisation's remittance in a big run names thousands of claims with their lines:
more than one document may hold (16 MiB). The header (`remittances`, `_id` the
remittance id) has the payee, the payment and the provider adjustments; the claims
are in `remittance_claims`, `<remittance id>:<n>` for n < chunk_count, so reading a
remittance is point reads by `_id` (the one filter FerretDB v1 pushes down).

Chunks are written before their header, and every write is an insert of a
deterministic document: a retry after a crash writes the same thing or finds it
there. A header therefore always has all its chunks.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.adjudication.payments.domain import Remittance
from services.adjudication.payments.domain.run import RemittancePlan

CLAIMS_PER_CHUNK = 200


def _chunks(plan: RemittancePlan) -> list[dict[str, Any]]:
    claims = [claim.model_dump(mode="json") for claim in plan.claims]
    return [
        {"_id": f"{plan.remittance_id}:{index}", "remittance_id": plan.remittance_id, "index": index,
         "claims": claims[start:start + CLAIMS_PER_CHUNK]}
        for index, start in enumerate(range(0, len(claims), CLAIMS_PER_CHUNK))
    ]


class Remittances:
    def __init__(self, db: AsyncDatabase) -> None:
        self.headers = db["remittances"]
        self.chunks = db["remittance_claims"]

    async def ensure_indexes(self) -> None:
        await self.headers.create_index([("organization_id", 1), ("payment.paid_at", -1)])
        await self.headers.create_index([("payment_run_id", 1)])

    async def store(self, remittance: Remittance, plan: RemittancePlan) -> dict[str, Any]:
        """Chunks, then the header; the header already there (a retry) is kept and returned."""
        chunks = _chunks(plan)
        if chunks:
            try:
                await self.chunks.insert_many(chunks, ordered=False)
            except BulkWriteError as exc:
                if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                    raise
        header = {
            **remittance.model_dump(mode="json", exclude={"claims"}, exclude_none=True),
            "_id": remittance.remittance_id,
            "paid_at": remittance.payment.paid_at,
            "claim_count": len(plan.claims),
            "chunk_count": len(chunks),
            "claim_ids": [claim.claim_id for claim in plan.claims],
            "balance_before": str(plan.balance_before),
            "balance_after": str(plan.balance_after),
        }
        try:
            await self.headers.insert_one(header)
            return header
        except DuplicateKeyError:
            return await self.headers.find_one({"_id": remittance.remittance_id})

    async def header(self, remittance_id: str) -> dict[str, Any] | None:
        return await self.headers.find_one({"_id": remittance_id})

    async def of_run(self, payment_run_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self.headers.find({"payment_run_id": payment_run_id}).sort("organization_id", 1)]

    async def full(self, header: dict[str, Any]) -> dict[str, Any]:
        """The API's remittance: the header with its claims, in order."""
        # Point reads, concurrently: FerretDB v1 pushes down `_id` equality only ($in scans).
        ids = [f"{header['_id']}:{index}" for index in range(header["chunk_count"])]
        chunks = await asyncio.gather(*(self.chunks.find_one({"_id": chunk_id}) for chunk_id in ids))
        claims = [claim for chunk in chunks for claim in chunk["claims"]]
        return public(header, claims)

    async def page(self, organization_id: str | None, paid_from: date | None, paid_to: date | None,
                   after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        """Headers newest first, (paid_at, id) below `after`, within the dates (UTC days)."""
        query: dict[str, Any] = {}
        if organization_id is not None:
            query["organization_id"] = organization_id
        paid: dict[str, Any] = {}
        if paid_from is not None:
            paid["$gte"] = datetime.combine(paid_from, time.min, UTC)
        if paid_to is not None:
            paid["$lt"] = datetime.combine(paid_to, time.max, UTC)
        if paid:
            query["paid_at"] = paid
        if after is not None:
            at, remittance_id = after
            query["$or"] = [{"paid_at": {"$lt": at}}, {"paid_at": at, "_id": {"$lt": remittance_id}}]
        cursor = self.headers.find(query, {"claim_ids": 0}).sort([("paid_at", -1), ("_id", -1)]).limit(limit)
        return [doc async for doc in cursor]


def public(header: dict[str, Any], claims: list[dict[str, Any]] | None) -> dict[str, Any]:
    body = {
        "remittance_id": header["_id"],
        "payment_run_id": header["payment_run_id"],
        "organization_id": header["organization_id"],
        "payee": header["payee"],
        "payment": header["payment"],
        "provider_adjustments": header.get("provider_adjustments", []),
        "claim_count": header["claim_count"],
    }
    if claims is not None:
        body["claims"] = claims
    return body
