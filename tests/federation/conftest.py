"""Fixtures: the test supergraph, an in-process router and the subgraphs served over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from strawberry.asgi import GraphQL

from federation.router import Router, Supergraph
from tests.federation.subgraphs import accounts, inventory, products, reviews

SUPERGRAPH_PATH = Path(__file__).with_name("supergraph.graphql")
SUBGRAPH_SCHEMAS = {
    "products": products.schema,
    "inventory": inventory.schema,
    "accounts": accounts.schema,
    "reviews": reviews.schema,
}


@pytest.fixture(scope="session")
def supergraph() -> Supergraph:
    return Supergraph.from_sdl(SUPERGRAPH_PATH.read_text())


@pytest.fixture
def router(supergraph: Supergraph) -> Router:
    """Every subgraph in-process, as the supergraph's join__graph URLs say."""
    return Router(supergraph)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread
        return None


@pytest.fixture(scope="session")
def http_subgraphs() -> Iterator[dict[str, str]]:
    """The four subgraphs behind uvicorn on a loopback port: name -> URL."""
    app = Starlette(
        routes=[Mount(f"/{name}", GraphQL(schema)) for name, schema in SUBGRAPH_SCHEMAS.items()]
    )
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("subgraph server did not start")
        time.sleep(0.02)
    yield {name: f"http://127.0.0.1:{port}/{name}/" for name in SUBGRAPH_SCHEMAS}
    server.should_exit = True
    thread.join(timeout=5)
