"""One async MongoDB client per process (PyMongo's AsyncMongoClient, motor's successor)."""

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from infra.metrics import MONGODB_COMMANDS
from infra.settings import PlatformSettings

# Commands whose first field names a collection; the rest (ping, hello, ...) count under "-".
_COLLECTION_COMMANDS = frozenset(
    {"find", "insert", "update", "delete", "findAndModify", "aggregate", "count", "distinct", "createIndexes",
     "listIndexes", "drop", "getMore"}
)  # fmt: skip


# Connection upkeep, not work done for a request.
_UPKEEP = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "saslStart", "saslContinue"})


class CommandCounter(monitoring.CommandListener):
    """Counts round trips per command and collection: the number that FerretDB's cost follows.

    Labels are command and collection names only (fixed, small sets): never a filter or a value.
    """

    def __init__(self, service: str) -> None:
        self.service = service

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in _UPKEEP:
            return
        collection = "-"
        if name in _COLLECTION_COMMANDS:
            target = event.command.get("collection") if name == "getMore" else event.command.get(name)
            if isinstance(target, str):
                collection = target
        MONGODB_COMMANDS.labels(self.service, name, collection).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def create_client(settings: PlatformSettings) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=3000,
        tz_aware=True,
        # FerretDB v1 has no retryable writes; our writes are idempotent by key instead.
        retryWrites=False,
        event_listeners=[CommandCounter(settings.service_name)],
    )


def service_database(client: AsyncMongoClient, settings: PlatformSettings) -> AsyncDatabase:
    return client[settings.database_name]


async def ping(client: AsyncMongoClient) -> None:
    await client.admin.command("ping")
