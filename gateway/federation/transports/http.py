"""GraphQL over HTTP to a subgraph, through one pooled ``httpx.AsyncClient``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import orjson

from gateway.federation.errors import SubgraphError, SubgraphTimeout
from gateway.federation.transports.base import SubgraphRequest

_REQUEST_HEADERS = {
    "content-type": "application/json",
    "accept": "application/graphql-response+json, application/json",
}


class HttpTransport:
    """POSTs requests to one subgraph URL, keeping connections alive between requests.

    ``propagate_headers`` names the client request headers forwarded to the subgraph;
    ``headers`` are static headers sent on every request.
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
    ) -> None:
        self.name = name
        self.url = url
        self.propagate = tuple(h.lower() for h in propagate_headers)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            headers={**_REQUEST_HEADERS, **(headers or {})},
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def execute(self, request: SubgraphRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"query": request.query}
        if request.variables:
            body["variables"] = request.variables
        headers = {
            name: value for name, value in request.headers.items() if name.lower() in self.propagate
        }
        try:
            response = await self._client.post(
                self.url, content=orjson.dumps(body), headers=headers or None
            )
        except httpx.TimeoutException as error:
            raise SubgraphTimeout(self.name, f'Subgraph "{self.name}" timed out') from error
        except httpx.HTTPError as error:
            raise SubgraphError(
                self.name, f'Subgraph "{self.name}" could not be reached: {type(error).__name__}'
            ) from error
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            raise SubgraphError(
                self.name,
                f'Subgraph "{self.name}" answered HTTP {response.status_code} without GraphQL',
            ) from error
        if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
            raise SubgraphError(
                self.name, f'Subgraph "{self.name}" answered with an invalid GraphQL response'
            )
        return payload

    async def aclose(self) -> None:
        await self._client.aclose()
