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


class DomainErrors(DomainError):
    """Several rules refused one command at once: answered as one problem listing each."""

    def __init__(self, errors: list[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, loc=first.loc)
        self.errors = tuple(errors)


def refuse_all(errors: list[DomainError]) -> None:
    """Raises what was found (one error as itself), or returns when nothing was."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DomainErrors(errors)
