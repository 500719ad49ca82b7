"""Answer inputs: free text, one of fixed options, or yes/no, some answers being excursions."""

from dataclasses import dataclass
from typing import Any

from ..base import Reader, describe, problem_at
from ..values import ACTION, ALERT, WITHIN, InputError, LimitResult
from .base import InputDef

DEFAULT_MAX_LENGTH = 2000


@dataclass(frozen=True, kw_only=True)
class TextInput(InputDef):
    """Free text (comments, observations), at most `max_length` characters."""

    type = "text"
    KEYS = ("max_length",)

    max_length: int = DEFAULT_MAX_LENGTH

    def _convert(self, text: str) -> str:
        if len(text) > self.max_length:
            raise InputError(f"at most {self.max_length} characters, not {len(text)}")
        if "\x00" in text:
            raise InputError("the text contains a NUL character")
        return text

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        length = r.integer("max_length", minimum=1)
        return {"max_length": DEFAULT_MAX_LENGTH if length is None else length}


def _read_options(r: Reader, key: str) -> tuple[str, ...]:
    options: list[str] = []
    for item, line in r.items(key):
        if not isinstance(item, str) or not item.strip():
            problem_at(r.problems, line, f"{r.context}: {key} item must be text, not {describe(item)}")
        elif item.strip() in options:
            problem_at(r.problems, line, f"{r.context}: duplicate option {item.strip()!r} in {key}")
        else:
            options.append(item.strip())
    return tuple(options)


@dataclass(frozen=True, kw_only=True)
class ChoiceInput(InputDef):
    """One of fixed options; some options may be alert or action excursions."""

    type = "choice"
    KEYS = ("options", "alert_options", "action_options")
    REQUIRED = ("options",)

    options: tuple[str, ...]
    alert_options: tuple[str, ...] = ()
    action_options: tuple[str, ...] = ()

    def _convert(self, text: str) -> str:
        if text not in self.options:
            raise InputError(f"{text!r} is not one of: {', '.join(self.options)}")
        return text

    def evaluate(self, value: str | None) -> LimitResult:
        """Flag an answer listed in action_options or alert_options."""
        if value in self.action_options:
            return LimitResult(ACTION, value, f"{value!r} is an action-level answer")
        if value in self.alert_options:
            return LimitResult(ALERT, value, f"{value!r} is an alert-level answer")
        return LimitResult(WITHIN, value)

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        options = _read_options(r, "options")
        if r.has("options") and not options:
            r.problem("'options' must list at least one option", "options")
        alert, action = _read_options(r, "alert_options"), _read_options(r, "action_options")
        for key, chosen in (("alert_options", alert), ("action_options", action)):
            for option in chosen:
                if option not in options:
                    r.problem(f"{key}: {option!r} is not one of the options", key)
        for option in set(alert) & set(action):
            r.problem(f"{option!r} is both an alert and an action option", "action_options")
        return {"options": options, "alert_options": alert, "action_options": action}


@dataclass(frozen=True, kw_only=True)
class YesNoInput(InputDef):
    """A yes/no answer; an answer other than `expected` is an action-limit excursion."""

    type = "yes_no"
    KEYS = ("expected",)

    expected: str | None = None

    def _convert(self, text: str) -> str:
        answer = text.lower()
        if answer not in ("yes", "no"):
            raise InputError(f"{text!r}: answer yes or no")
        return answer

    def evaluate(self, value: str | None) -> LimitResult:
        """Flag an answer that differs from the expected one."""
        if self.expected is not None and value is not None and value != self.expected:
            return LimitResult(ACTION, value, f"answer {value!r}, expected {self.expected!r}")
        return LimitResult(WITHIN, value)

    @classmethod
    def params(cls, r: Reader) -> dict[str, Any]:
        if not r.has("expected"):
            return {"expected": None}
        raw = r.node["expected"]
        # YAML 1.1 reads a bare yes/no as a boolean; both spellings mean the same here.
        expected = {True: "yes", False: "no"}.get(raw) if isinstance(raw, bool) else raw
        if expected not in ("yes", "no"):
            r.problem(f"'expected' must be yes or no, not {describe(raw)}", "expected")
            expected = None
        return {"expected": expected}
