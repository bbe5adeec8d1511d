"""GraphQL over HTTP to a subgraph, with in-flight deduplication of identical queries.

Requests go through one ``Http11Pool`` per subgraph (persistent connections). Identical
query fetches in flight at the same time (same subgraph, body, that is document and
variables, and the same forwarded headers) share one upstream call, as Apollo Router's and
Hive Gateway's deduplication do: concurrent clients asking for the same data cost the
subgraph one request. Forwarded headers are part of the key, so requests carrying
different credentials never share an answer; mutations are never shared nor retried.
Each caller decodes the shared bytes itself, so no two responses share mutable objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from gateway.federation.errors import SubgraphError, SubgraphTimeout
from gateway.federation.transports.base import SubgraphRequest
from gateway.federation.transports.http11 import ConnectionFailed, Http11Pool

_REQUEST_HEADERS = {
    "content-type": "application/json",
    "accept": "application/graphql-response+json, application/json",
}

#: What a shared call ends with: the answer, the error to re-raise, or None when the
#: request that made the call was cancelled (the others then make their own).
_Outcome = tuple[int, bytes] | SubgraphError | None


class HttpTransport:
    """POSTs requests to one subgraph URL, keeping connections alive between requests.

    ``propagate_headers`` names the client request headers forwarded to the subgraph;
    ``headers`` are static headers sent on every request; ``deduplicate`` lets identical
    concurrent queries share one call.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        propagate_headers: Iterable[str] = (),
        max_connections: int = 100,
        deduplicate: bool = True,
    ) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self.deduplicate = deduplicate
        self.propagate = tuple(h.lower() for h in propagate_headers)
        static = {**_REQUEST_HEADERS, **{k.lower(): v for k, v in (headers or {}).items()}}
        self._static_lines = b"".join(_header_line(k, v) or b"" for k, v in static.items())
        self._pool = Http11Pool(url, max_connections=max_connections)
        self._in_flight: dict[tuple[bytes, bytes], asyncio.Future[_Outcome]] = {}

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        if request.variables:
            body = orjson.dumps({"query": request.query, "variables": request.variables})
        else:
            body = orjson.dumps({"query": request.query})
        lines = self._header_lines(request.headers)
        if request.mutation:
            status, content = await self._exchange(body, lines, retry=False)
        elif self.deduplicate:
            status, content = await self._shared_exchange(body, lines)
        else:
            status, content = await self._exchange(body, lines, retry=True)
        return self._decode(status, content)

    def _header_lines(self, headers: Mapping[str, str]) -> bytes:
        if not headers or not self.propagate:
            return self._static_lines
        lines = [self._static_lines]
        if isinstance(headers, dict):
            found = ((name.lower(), value) for name, value in headers.items())
            pairs = [(name, value) for name, value in found if name in self.propagate]
        else:  # a case-insensitive multi-dict (Starlette's Headers)
            pairs = [(name, headers.get(name)) for name in self.propagate]
        for name, value in pairs:
            if value is not None:
                lines.append(_header_line(name, value) or b"")
        return b"".join(lines)

    async def _shared_exchange(self, body: bytes, lines: bytes) -> tuple[int, bytes]:
        key = (body, lines)
        shared = self._in_flight.get(key)
        if shared is not None:
            outcome = await asyncio.shield(shared)
            if isinstance(outcome, SubgraphError):
                raise type(outcome)(outcome.subgraph, str(outcome))
            if outcome is not None:
                return outcome
            return await self._exchange(body, lines, retry=True)
        future: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            answer = await self._exchange(body, lines, retry=True)
        except SubgraphError as error:
            future.set_result(error)
            raise
        except BaseException:
            future.set_result(None)
            raise
        finally:
            del self._in_flight[key]
        future.set_result(answer)
        return answer

    async def _exchange(self, body: bytes, lines: bytes, *, retry: bool) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._pool.request(lines, body, retry=retry)
        except TimeoutError as error:
            raise SubgraphTimeout(self.name, f'Subgraph "{self.name}" timed out') from error
        except ConnectionFailed as error:
            raise SubgraphError(
                self.name, f'Subgraph "{self.name}" could not be reached: {error}'
            ) from error

    def _decode(self, status: int, content: bytes) -> dict[str, Any]:
        try:
            payload = orjson.loads(content)
        except orjson.JSONDecodeError as error:
            raise SubgraphError(
                self.name, f'Subgraph "{self.name}" answered HTTP {status} without GraphQL'
            ) from error
        if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
            raise SubgraphError(
                self.name, f'Subgraph "{self.name}" answered with an invalid GraphQL response'
            )
        return payload

    async def aclose(self) -> None:
        await self._pool.aclose()


def _header_line(name: str, value: str) -> bytes | None:
    """``name: value`` CRLF, or None for a value that could split the request head."""
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
        return None
    try:
        return f"{name}: {value}\r\n".encode("latin-1")
    except UnicodeEncodeError:
        return None
