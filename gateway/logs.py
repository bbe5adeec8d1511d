"""Logs as one JSON object a line, each carrying the request it belongs to.

Every line names the correlation id, the client and the tenant of the request being served
(when there is one), so an operator can follow one caller's request through the gateway and
the backends' logs. Expected failures (a backend down, a caller's mistake) are logged by their
owners as one line with a `code`; a traceback appears only for the unexpected, inside the
line's `exception` field, never across lines.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from policies.principal import Principal
from system_apis.context import current_correlation_id

_principal: ContextVar[Principal | None] = ContextVar("log_principal", default=None)

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = current_correlation_id()
        if correlation_id:
            line["correlation_id"] = correlation_id
        principal = _principal.get()
        if principal is not None:
            line["client"] = principal.client_id
            line["tenant"] = principal.tenant_id
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class PrincipalLogContext:
    """After authentication: the request's principal is named on each line logged for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        token = _principal.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            _principal.reset(token)


def log_config(level: str) -> dict[str, Any]:
    """The `logging.config.dictConfig` of the gateway's process, uvicorn's loggers included."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # A line per backend request is the backends' access log, not ours.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
