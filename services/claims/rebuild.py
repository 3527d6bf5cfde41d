"""Rebuilds the claim status read model from claims.events, from offset zero.

    python -m services.claims.rebuild

Empties the collection and folds every event through the live projection's handler.
(Emptied rather than dropped: FerretDB v1 keeps a dropped collection's SQLite index
names and then refuses to create them again.)
The live consumer keeps running: both write through version-guarded updates, so
whichever applies an event first wins and the other sees it already reflected.
"""

import asyncio

from pymongo.asynchronous.database import AsyncDatabase

from infra.mongo import create_client, service_database
from infra.projection import rebuild
from infra.subscriptions import Subscriptions
from services.claims.settings import ClaimsSettings
from services.claims.status_projection import READ_MODEL, ClaimStatusProjection


async def rebuild_claim_status(settings: ClaimsSettings, db: AsyncDatabase, collection: str = READ_MODEL) -> int:
    projection = ClaimStatusProjection(db, collection)
    await projection.views.delete_many({})
    await projection.fingerprints.delete_many({})
    await projection.ensure_indexes()
    return await rebuild(settings, Subscriptions(projection.subscriptions()))


async def _main() -> None:
    settings = ClaimsSettings()
    client = create_client(settings)
    try:
        applied = await rebuild_claim_status(settings, service_database(client, settings))
        print(f"rebuilt {READ_MODEL} from {applied} events")
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(_main())
