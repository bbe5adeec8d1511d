"""A supergraph that links a security or execution spec the router does not enforce is refused.

Serving it anyway would hand fields protected by, say, row-level rules to every caller. The
access-control specs (``@authenticated``, ``@requiresScopes``, ``@policy``) are enforced, so
supergraphs linking them load, and serve nothing they protect to a caller nobody vouched for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.router import Router, Supergraph, SupergraphError
from gateway.cli import main

_SUPERGRAPH = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
  {link}
{{ query: Query }}
directive @join__type(graph: join__Graph!, key: join__FieldSet) repeatable on OBJECT
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT
directive @inaccessible on FIELD_DEFINITION | OBJECT
directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT
scalar join__FieldSet
enum join__Graph {{ A @join__graph(name: "a", url: "http://127.0.0.1:9/graphql") }}
type Query @join__type(graph: A) {{
  public: String
  payroll: String @requiresScopes(scopes: [["finance"]])
  internal: String @inaccessible @tag(name: "x")
}}
"""


def _sdl(link: str) -> str:
    return _SUPERGRAPH.format(link=link)


@pytest.mark.parametrize(
    "url",
    ["https://specs.apollo.dev/context/v0.1", "https://example.com/rowLevelSecurity/v1.0"],
)
@pytest.mark.parametrize("purpose", ["SECURITY", "EXECUTION"])
def test_a_spec_the_router_does_not_enforce_stops_the_load(url: str, purpose: str) -> None:
    with pytest.raises(SupergraphError) as refused:
        Supergraph.from_sdl(_sdl(f'@link(url: "{url}", for: {purpose})'))
    assert url in str(refused.value)
    assert purpose in str(refused.value)


def test_serve_refuses_to_start_and_names_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://specs.apollo.dev/context/v0.1"
    path = tmp_path / "supergraph.graphql"
    path.write_text(_sdl(f'@link(url: "{url}", for: SECURITY)'))
    assert main(["serve", "--supergraph", str(path), "--port", "9"]) == 2
    assert url in capsys.readouterr().err


@pytest.mark.parametrize(
    "link",
    [
        '@link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)',
        '@link(url: "https://specs.apollo.dev/tag/v0.3")',
        '@link(url: "https://specs.apollo.dev/requiresScopes/v0.1")',
        '@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)',
        '@link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)',
        '@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)',
    ],
)
def test_enforced_specs_and_metadata_links_load(link: str) -> None:
    router = Router(Supergraph.from_sdl(_sdl(link)))
    fields = router.schema.query_type.fields  # type: ignore[union-attr]
    assert "public" in fields
    assert "internal" not in fields


@pytest.mark.parametrize("purpose", [", for: SECURITY", ", for: EXECUTION", ""])
async def test_a_linked_access_spec_is_enforced_whatever_its_purpose(purpose: str) -> None:
    link = f'@link(url: "https://specs.apollo.dev/requiresScopes/v0.1"{purpose})'
    router = Router(Supergraph.from_sdl(_sdl(link)))
    answer = await router.execute("{ payroll }")
    assert answer == {
        "data": {},
        "errors": [
            {
                "message": "Unauthorized field or type",
                "path": ["payroll"],
                "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
            }
        ],
    }
