"""Rebuilds the claim status read model from claims.events, from offset zero.

    python -m services.claims.rebuild              # the claim status read model
    python -m services.claims.rebuild analytics    # the denial analytics buckets

Empties the collection and folds every event through the live projection's handler
(VersionedProjection.rebuild: the same code as live). The live consumer keeps running:
both write through version-guarded updates, so whichever applies an event first wins
and the other sees it already reflected.
"""

import asyncio
import sys

from pymongo.asynchronous.database import AsyncDatabase

from infra.mongo import create_client, service_database
from services.claims.denial_analytics import DenialAnalytics
from services.claims.settings import ClaimsSettings
from services.claims.status_projection import READ_MODEL, ClaimStatusProjection


async def rebuild_claim_status(settings: ClaimsSettings, db: AsyncDatabase, collection: str = READ_MODEL) -> int:
    return await ClaimStatusProjection(db, collection).rebuild(settings)


async def _main() -> None:
    settings = ClaimsSettings()
    client = create_client(settings)
    try:
        db = service_database(client, settings)
        if sys.argv[1:] == ["analytics"]:
            applied = await DenialAnalytics(db).rebuild(settings)
            print(f"rebuilt the denial analytics buckets from {applied} events")
        else:
            applied = await rebuild_claim_status(settings, db)
            print(f"rebuilt {READ_MODEL} from {applied} events")
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(_main())
