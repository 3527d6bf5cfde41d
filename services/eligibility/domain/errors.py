"""The one error type the domain raises; adapters map `code` to problem+json."""


class DomainError(Exception):
    """A command was refused by a business rule.

    `code` is stable and machine-readable (adapters and clients branch on it);
    `message` is for people and never contains PHI such as names or birth dates.
    """

    def __init__(self, code: str, message: str, *, loc: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.loc = loc
