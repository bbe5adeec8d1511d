"""GraphQL over HTTP to a subgraph, with in-flight deduplication of identical queries.

Requests go through one pooled ``httpx.AsyncClient`` per subgraph. Its transport is aiohttp's
connection pool (``httpx-aiohttp``): measured per subgraph call it costs a quarter of the CPU of
httpx's own pool, which matters because subgraph calls are the router's most frequent I/O.
A query sent on a kept-alive connection the subgraph had already closed is sent once more;
a mutation never is, since the subgraph may have applied it. Identical
query fetches in flight at the same time (same subgraph, body, that is document and
variables, and the same headers from the subgraph's rules and the caller's identity) share
one upstream call, as Apollo Router's and Hive Gateway's deduplication do: concurrent
clients asking for the same data cost the subgraph one request. Those headers are part of
the key, so requests of different callers never share an answer; the trace headers are not
(a shared call carries the first request's; while a span is current they are its own, see
``federation.router.telemetry``). Mutations are never shared nor retried.
Each caller decodes the shared bytes itself, so no two responses share mutable objects.
A failure reaches the router as a neutral ``SubgraphError``; its detail (address, status,
exception text) is logged here with the request's trace headers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from federation.router.errors import SubgraphError, SubgraphInvalidResponse, SubgraphTimeout
from federation.router.headers import NO_CLIENT_HEADERS, HeaderPairs, HeaderRules
from federation.router.telemetry import with_current_trace
from federation.router.transports.base import SubgraphRequest

_logger = logging.getLogger("federation.router.subgraphs")

_REQUEST_HEADERS: HeaderPairs = (
    ("content-type", "application/json"),
    ("accept", "application/graphql-response+json, application/json"),
)

#: What a shared call ends with: the answer, the error to re-raise, or None when the
#: request that made the call was cancelled (the others then make their own).
_Outcome = tuple[int, bytes] | SubgraphError | None


class HttpTransport:
    """POSTs requests to one subgraph URL, keeping connections alive between requests.

    ``header_rules`` say which of the client's headers are sent (none by default);
    ``deduplicate`` lets identical concurrent queries share one call.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 30.0,
        header_rules: HeaderRules = NO_CLIENT_HEADERS,
        max_connections: int = 100,
        deduplicate: bool = True,
    ) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self.deduplicate = deduplicate
        self.header_rules = header_rules
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
        forwarded = request.forwarded
        caller = (
            _REQUEST_HEADERS
            + self.header_rules.apply(request.headers)
            + forwarded.identity_for(self.name)
        )
        pairs = caller + with_current_trace(forwarded.trace)
        try:
            if request.mutation:
                status, content = await self._exchange(body, pairs, retry=False)
            elif self.deduplicate:
                status, content = await self._shared_exchange(body, caller, pairs)
            else:
                status, content = await self._exchange(body, pairs, retry=True)
            return self._decode(status, content)
        except SubgraphError as error:
            trace = " ".join(f"{name}={value}" for name, value in forwarded.trace)
            _logger.warning(
                "subgraph %s at %s failed (%s): %s [%s]",
                self.name,
                self.url,
                error.code,
                error.detail,
                trace,
            )
            raise

    async def _shared_exchange(
        self, body: bytes, caller: HeaderPairs, pairs: HeaderPairs
    ) -> tuple[int, bytes]:
        """``caller`` headers (not the trace ones) with the body decide who may share."""
        key = (body, caller)
        shared = self._in_flight.get(key)
        if shared is not None:
            outcome = await asyncio.shield(shared)
            if isinstance(outcome, SubgraphError):
                raise type(outcome)(outcome.subgraph, str(outcome), detail=outcome.detail)
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
            raise SubgraphTimeout(self.name, detail=f"no answer in {self.timeout} s") from error
        except httpx.HTTPError as error:
            raise SubgraphError(self.name, detail=f"{type(error).__name__}: {error}") from error

    async def _post(self, body: bytes, pairs: HeaderPairs) -> tuple[int, bytes]:
        response = await self._client.post(self.url, content=body, headers=pairs)
        return response.status_code, response.content

    def _decode(self, status: int, content: bytes) -> dict[str, Any]:
        try:
            payload = orjson.loads(content)
        except orjson.JSONDecodeError as error:
            raise SubgraphInvalidResponse(
                self.name, detail=f"HTTP {status}, {len(content)} bytes that are not JSON"
            ) from error
        if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
            raise SubgraphInvalidResponse(
                self.name, detail=f"HTTP {status}, JSON without data or errors"
            )
        return payload

    async def aclose(self) -> None:
        await self._client.aclose()
