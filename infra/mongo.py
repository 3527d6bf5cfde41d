"""One async MongoDB client per process (PyMongo's AsyncMongoClient, motor's successor)."""

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from infra.settings import PlatformSettings


def create_client(settings: PlatformSettings) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=3000,
        tz_aware=True,
        # FerretDB v1 has no retryable writes; our writes are idempotent by key instead.
        retryWrites=False,
    )


def service_database(client: AsyncMongoClient, settings: PlatformSettings) -> AsyncDatabase:
    return client[settings.database_name]


async def ping(client: AsyncMongoClient) -> None:
    await client.admin.command("ping")
