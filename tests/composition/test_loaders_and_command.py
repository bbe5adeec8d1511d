"""Getting SDL from files, in-process strawberry schemas and running subgraphs; the command."""

from __future__ import annotations

import io
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from federation.composition import (
    SdlLoadError,
    compose_command,
    fetch_sdl,
    load_sdl_from_file,
    load_sdl_from_module,
)

STRAWBERRY_SUBGRAPH = """
import strawberry


@strawberry.federation.type(keys=["number"])
class Order:
    number: strawberry.ID
    status: str


@strawberry.type
class Query:
    @strawberry.field
    def order(self, number: strawberry.ID) -> Order | None:
        return None


schema = strawberry.federation.Schema(query=Query)
"""


@pytest.fixture
def strawberry_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package = tmp_path / "subgraph_fixture_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "orders.py").write_text(STRAWBERRY_SUBGRAPH)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "subgraph_fixture_pkg.orders:schema"
    for name in [n for n in sys.modules if n.startswith("subgraph_fixture_pkg")]:
        del sys.modules[name]


def test_load_sdl_from_file(tmp_path: Path) -> None:
    path = tmp_path / "a.graphql"
    path.write_text("type Query { a: Int }")
    assert load_sdl_from_file(path) == "type Query { a: Int }"


def test_load_sdl_from_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SdlLoadError, match=r"cannot read SDL file .*missing\.graphql"):
        load_sdl_from_file(tmp_path / "missing.graphql")


def test_load_sdl_from_a_strawberry_module(strawberry_module: str) -> None:
    sdl = load_sdl_from_module(strawberry_module)
    assert "https://specs.apollo.dev/federation/v2" in sdl
    assert 'Order @key(fields: "number")' in sdl


def test_load_sdl_from_module_with_a_bad_target() -> None:
    with pytest.raises(SdlLoadError, match=r'must look like "package\.module:attribute"'):
        load_sdl_from_module("no_colon_here")
    with pytest.raises(SdlLoadError, match='cannot import "not_a_real_module_xyz"'):
        load_sdl_from_module("not_a_real_module_xyz:schema")


async def test_fetch_sdl_posts_the_service_query() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json={"data": {"_service": {"sdl": "type Query { a: Int }"}}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sdl = await fetch_sdl("http://orders/graphql", client=client)
    assert sdl == "type Query { a: Int }"
    assert b"_service" in seen[0]


async def test_fetch_sdl_reports_http_errors() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(SdlLoadError, match="answered HTTP 503"):
            await fetch_sdl("http://orders/graphql", client=client)


def test_compose_command_writes_supergraph_and_api_schema(
    tmp_path: Path, strawberry_module: str
) -> None:
    (tmp_path / "shipments.graphql").write_text(
        textwrap.dedent(
            """
            extend schema @link(url: "https://specs.apollo.dev/federation/v2.3",
              import: ["@key"])
            type Order @key(fields: "number") { number: ID! shipped: Boolean }
            """
        )
    )
    config = tmp_path / "compose.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [subgraphs.orders]
            routing_url = "inproc:{strawberry_module}"
            schema = {{ module = "{strawberry_module}" }}

            [subgraphs.shipments]
            routing_url = "http://shipments:4002/graphql"
            schema = {{ file = "shipments.graphql" }}
            """
        )
    )
    out, api = tmp_path / "supergraph.graphql", tmp_path / "schema.graphql"
    assert compose_command(config, out, api) == 0
    supergraph = out.read_text()
    assert f'ORDERS @join__graph(name: "orders", url: "inproc:{strawberry_module}")' in supergraph
    assert '@join__type(graph: SHIPMENTS, key: "number")' in supergraph
    assert "shipped: Boolean" in api.read_text()
    assert "join__" not in api.read_text()


def test_compose_command_reports_config_problems_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "compose.toml"
    config.write_text(
        '[subgraphs.a]\nrouting_url = "http://a"\n'
        '[subgraphs.b]\nschema = { file = "b.graphql" }\n'
        '[subgraphs.c]\nrouting_url = "http://c"\nschema = { file = "missing.graphql" }\n'
    )
    stderr = io.StringIO()
    out = tmp_path / "supergraph.graphql"
    assert compose_command(config, out, None, stderr=stderr) == 1
    lines = stderr.getvalue().splitlines()
    assert lines[0].endswith("subgraphs.a.schema needs exactly one of file, module or introspect")
    assert lines[1].endswith("subgraphs.b.routing_url is missing")
    assert "subgraphs.c.schema: cannot read SDL file" in lines[2]
    assert not out.exists()


def test_compose_command_reports_composition_errors(tmp_path: Path) -> None:
    (tmp_path / "a.graphql").write_text("type Query { a: Int }")
    (tmp_path / "b.graphql").write_text("type Query { a: String }")
    config = tmp_path / "compose.toml"
    config.write_text(
        '[subgraphs.a]\nrouting_url = "http://a"\nschema = { file = "a.graphql" }\n'
        '[subgraphs.b]\nrouting_url = "http://b"\nschema = { file = "b.graphql" }\n'
    )
    stderr = io.StringIO()
    assert compose_command(config, tmp_path / "s.graphql", stderr=stderr) == 1
    assert 'error: Type of field "Query.a" is incompatible across subgraphs' in stderr.getvalue()
