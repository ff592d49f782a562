"""Core errors. Each dialect maps them to its own status codes and error body.

RosterError
├── NotFound       an object that does not exist or belongs to another team
├── Invalid        a field holds a value the rules refuse (names the field)
├── Conflict       the change clashes with existing state (a duplicate, a guard)
├── Unauthorized   no API key, or one that is unknown or revoked
└── Forbidden      a valid key whose permission does not allow the call
"""

from __future__ import annotations


class RosterError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RosterError):
    def __init__(self, kind: str, identifier: str | None = None) -> None:
        label = kind.replace("_", " ")
        super().__init__(f"{label} not found" if identifier is None else f"{label} `{identifier}` not found")
        self.kind = kind


class Invalid(RosterError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"`{field}`: {message}")
        self.field = field


class Conflict(RosterError):
    pass


class Unauthorized(RosterError):
    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class Forbidden(RosterError):
    pass
