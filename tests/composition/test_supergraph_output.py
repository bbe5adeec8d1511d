"""The supergraph and API schema for a realistic logistics federation, as routers read them."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema, lexicographic_sort_schema, print_schema

from federation.composition import SubgraphSource, compose, load_sdl_from_file

FIXTURES = Path(__file__).parent / "fixtures" / "logistics"


def logistics_sources() -> list[SubgraphSource]:
    return [
        SubgraphSource(path.stem, f"http://{path.stem}", load_sdl_from_file(path))
        for path in sorted(FIXTURES.glob("*.graphql"))
        if not path.stem.startswith("expected")
    ]


def test_logistics_supergraph_matches_the_reviewed_expectation() -> None:
    result = compose(logistics_sources())
    expected = (FIXTURES / "expected_supergraph.graphql").read_text()
    assert result.supergraph_sdl + "\n" == expected


def test_logistics_api_schema_matches_the_reviewed_expectation() -> None:
    result = compose(logistics_sources())
    expected = build_schema((FIXTURES / "expected_api_schema.graphql").read_text())
    actual = build_schema(result.api_schema_sdl)
    assert print_schema(lexicographic_sort_schema(actual)) == print_schema(
        lexicographic_sort_schema(expected)
    )


def test_supergraph_starts_with_link_and_join_preamble() -> None:
    sdl = compose(logistics_sources()).supergraph_sdl
    assert sdl.startswith(
        "schema\n"
        '  @link(url: "https://specs.apollo.dev/link/v1.0")\n'
        '  @link(url: "https://specs.apollo.dev/join/v0.4", for: EXECUTION)\n'
    )
    for text in (
        "scalar join__FieldSet",
        "scalar link__Import",
        "enum link__Purpose {",
        'BILLING @join__graph(name: "billing", url: "http://billing")',
        "directive @join__field(graph: join__Graph, requires: join__FieldSet,",
    ):
        assert text in sdl


def test_supergraph_builds_as_a_graphql_schema() -> None:
    result = compose(logistics_sources())
    schema = build_schema(result.supergraph_sdl)
    assert schema.query_type is not None and schema.query_type.name == "Query"
    assert schema.mutation_type is not None


def test_api_schema_hides_join_link_and_inaccessible_elements() -> None:
    api = compose(logistics_sources()).api_schema_sdl
    assert "join__" not in api and "link__" not in api
    assert "erpInternalId" not in api
    schema = build_schema(api)
    assert "ReturnSubject" in schema.type_map
