"""The base of every step input type: validate an entry, evaluate it, read the definition."""

from dataclasses import dataclass
from typing import Any, ClassVar

from ..base import Located, Reader
from ..values import WITHIN, InputError, LimitResult


def entered_text(raw: str | None, required: bool, what: str = "a value") -> str | None:
    """The entry without surrounding blanks; None if it is empty and may be, refused if it may not."""
    text = (raw or "").strip()
    if not text and required:
        raise InputError(f"{what} is required")
    return text or None


@dataclass(frozen=True, kw_only=True)
class InputDef(Located):
    """One value a step records; subclasses add their type's parameters and rules."""

    type: ClassVar[str] = ""
    KEYS: ClassVar[tuple[str, ...]] = ()
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    name: str
    label: str
    required: bool = True
    help: str | None = None

    def validate(self, raw: str | None) -> Any:
        """Return the normalized value of an entry (None if optional and empty)."""
        if raw is not None and not isinstance(raw, str):
            raise TypeError("validate() takes the entry as text")
        text = entered_text(raw, self.required)
        return None if text is None else self._convert(text)

    def _convert(self, text: str) -> Any:
        raise NotImplementedError

    def evaluate(self, value: Any) -> LimitResult:
        """Compare a validated value with the input's limits (this type has none)."""
        return LimitResult(WITHIN, value)

    def to_dict(self) -> dict[str, Any]:
        """Return the definition as JSON data, with its type name."""
        return {"type": self.type, **super().to_dict()}

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        """Read this type's own keys from the definition."""
        return {}
