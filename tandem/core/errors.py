"""Errors that services raise for bad input; pages show them on the form, the API as JSON 4xx."""

from __future__ import annotations


class InvalidInput(Exception):
    """Input that breaks a business rule. `errors` maps a field name (or "__all__") to messages."""

    def __init__(self, errors: dict[str, list[str]] | str, *, code: str = "invalid") -> None:
        self.errors = {"__all__": [errors]} if isinstance(errors, str) else errors
        self.code = code
        first = next(iter(self.errors.values()), ["invalid input"])
        super().__init__(first[0] if first else "invalid input")

    @property
    def message(self) -> str:
        return str(self)
