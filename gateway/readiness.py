"""Readiness: each backend, store and subgraph with its state, and what they add up to.

`/health` answers whether the process is alive and nothing else, so a liveness probe never
restarts a gateway because a backend is down. `/ready` looks at every dependency:

- `ok` (200): everything answers;
- `degraded` (200): a backend's breaker is open or half open, a subgraph, the event log or the
  cache does not answer; the gateway still serves everything else (reads without the event
  log, without the cache at the cost of more backend calls), and taking it out of the load
  balancer would not help: every replica sees the same backends, so a 503 here would turn a
  partial outage into a full one;
- `unavailable` (503): the database does not answer, and with it tracking history, cursors and
  dead letters, so this replica cannot serve; another replica may.

Backends are judged by their breakers (no call is made: a probe must not add load to a backend
in trouble); stores and subgraphs are asked, each within `PROBE_TIMEOUT_S`, all at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from federation.router.transports.base import SubgraphRequest, Transport
from gateway.runtime import GatewayRuntime
from stores.bundle import Stores
from system_apis.resilience.breaker import BreakerSnapshot, BreakerState

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 1.0
OK, DEGRADED, UNAVAILABLE = "ok", "degraded", "unavailable"
UP, DOWN = "ok", "down"
"""A component's own state; `degraded` for a backend whose breaker is not closed."""
STATUS_CODES = {OK: 200, DEGRADED: 200, UNAVAILABLE: 503}


@dataclass(frozen=True, slots=True)
class Readiness:
    status: str
    backends: Mapping[str, Mapping[str, str]]
    stores: Mapping[str, Mapping[str, str]]
    subgraphs: Mapping[str, Mapping[str, str]]

    @property
    def status_code(self) -> int:
        return STATUS_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "backends": dict(self.backends),
            "stores": dict(self.stores),
            "subgraphs": dict(self.subgraphs),
        }


async def check_readiness(
    breakers: Mapping[str, BreakerSnapshot],
    stores: Stores,
    cache_ping: Callable[[], Awaitable[object]],
    subgraphs: Mapping[str, Transport],
) -> Readiness:
    """Every dependency's state; a component that does not answer is `down`."""
    store_probes: dict[str, Callable[[], Awaitable[object]]] = {
        "database": lambda: stores.cursors.get("readiness-probe"),
        "event_log": stores.event_log.ping,
        "cache": cache_ping,
    }
    subgraph_probes = {name: _typename_of(name, transport) for name, transport in subgraphs.items()}
    store_states, subgraph_states = await asyncio.gather(
        _probe_all("store", store_probes), _probe_all("subgraph", subgraph_probes)
    )
    backend_states = {
        name: {
            "state": UP if snapshot.state == BreakerState.CLOSED else DEGRADED,
            "breaker": snapshot.state.value,
        }
        for name, snapshot in sorted(breakers.items())
    }
    if store_states["database"]["state"] != UP:
        status = UNAVAILABLE
    elif any(
        state["state"] != UP
        for states in (backend_states, store_states, subgraph_states)
        for state in states.values()
    ):
        status = DEGRADED
    else:
        status = OK
    return Readiness(status, backend_states, store_states, subgraph_states)


def _typename_of(name: str, transport: Transport) -> Callable[[], Awaitable[object]]:
    async def probe() -> object:
        answer = await transport.execute(SubgraphRequest(subgraph=name, query="{ __typename }"))
        if not isinstance(answer.get("data"), dict):
            raise RuntimeError("no data in the answer to { __typename }")
        return answer

    return probe


async def _probe_all(
    kind: str, probes: Mapping[str, Callable[[], Awaitable[object]]]
) -> dict[str, dict[str, str]]:
    names = sorted(probes)
    outcomes = await asyncio.gather(*(_probe(kind, name, probes[name]) for name in names))
    return {name: {"state": state} for name, state in zip(names, outcomes, strict=True)}


async def _probe(kind: str, name: str, probe: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT_S)
    except Exception as error:  # any failure means not ready; the log says which and why
        logger.warning(
            "readiness: %s %s does not answer (%s)",
            kind,
            name,
            type(error).__name__,
            extra={"code": "NOT_READY"},
        )
        return DOWN
    return UP


async def readiness_of(runtime: GatewayRuntime) -> Readiness:
    """The running gateway's readiness: its breakers, stores, cache and subgraphs."""
    return await check_readiness(
        runtime.clients.breakers(),
        runtime.stores,
        lambda: runtime.cache.exists("readiness-probe"),
        {
            graph.name: runtime.router.transports[graph.enum_value]
            for graph in runtime.router.supergraph.graphs.values()
        },
    )
