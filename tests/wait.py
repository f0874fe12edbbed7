"""Waiting for something in a test: until it holds, or a failure that says what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float, message: str | Callable[[], str], *, interval: float = 0.05
) -> T:
    """``predicate()``'s first truthy value, polled every ``interval`` seconds; past ``timeout``
    seconds an AssertionError with ``message`` (a callable is called then, to say what it saw)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = message() if callable(message) else message
            raise AssertionError(f"{said} (waited {timeout:g} s)")
        time.sleep(interval)
