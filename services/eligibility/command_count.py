"""Counts the MongoDB commands this process sends, by command and collection.

On FerretDB v1 every command costs a roughly fixed slice of the server's CPU, so the
number of round trips per eligibility check is the budget that matters; it is also
deterministic, unlike timings on a shared machine. `make bench` reads the counter from
/metrics. Labels are command and collection names only, never a filter or a document.
"""

from prometheus_client import Counter
from pymongo import monitoring

MONGODB_COMMANDS = Counter(
    "mongodb_commands_total", "MongoDB commands sent by this process", ["command", "collection"]
)

# Connection upkeep, not work done for a request.
_IGNORED = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "saslStart", "saslContinue"})


class CommandCounter(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in _IGNORED:
            return
        target = event.command.get(name)
        collection = target if isinstance(target, str) else "-"
        MONGODB_COMMANDS.labels(name, collection).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_registered = False


def count_commands() -> None:
    """Registers the counter for every client created after this call (once per process)."""
    global _registered
    if not _registered:
        monitoring.register(CommandCounter())
        _registered = True
