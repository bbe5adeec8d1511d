"""A backend's answer as a step's outcome: what cannot be served now waits, a refusal fails.

The system APIs' typed errors decide it (`system_apis.errors`): unavailable, throttled or
timed out is `RetryLater` (a write that timed out is retried under the same idempotency key,
so the backend applies it once whatever happened); a 4xx refusal is the business's answer,
`StepFailed`, and compensation begins.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from process_apis.workflows.engine import RetryLater, StepFailed
from system_apis.errors import (
    BackendRejected,
    BackendThrottled,
    BackendTimeout,
    BackendUnavailable,
)

T = TypeVar("T")


async def backend_step(call: Awaitable[T], *, keep_refusals: bool = False) -> T:
    """`call`'s answer, or its failure as a step's outcome; `keep_refusals` lets a step read
    a refusal's reason itself (some refusals mean "done already")."""
    try:
        return await call
    except (BackendUnavailable, BackendThrottled) as error:
        raise RetryLater(error.public_message, error.retry_after) from None
    except BackendTimeout as error:
        raise RetryLater(error.public_message) from None
    except BackendRejected as error:
        if keep_refusals:
            raise
        raise StepFailed(error.public_message) from None
