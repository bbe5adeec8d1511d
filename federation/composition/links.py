"""How a subgraph names the federation directives: ``@link`` imports, aliases, namespaces.

A federation 2 subgraph may import ``@key`` as is, rename it (``{name: "@key", as:
"@primaryKey"}``) or leave it namespaced (``@federation__key``, or ``@fed__key`` with
``as: "fed"``). A subgraph without a federation ``@link`` is federation 1 and uses bare names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphql import value_from_ast_untyped
from graphql.language import DirectiveNode

FEDERATION_URL = re.compile(r"^https://specs\.apollo\.dev/federation/v(\d+)\.(\d+)/?$")

FEDERATION_DIRECTIVES = (
    "key",
    "requires",
    "provides",
    "external",
    "shareable",
    "override",
    "inaccessible",
    "tag",
    "interfaceObject",
    "composeDirective",
    "authenticated",
    "requiresScopes",
    "policy",
    "cost",
    "listSize",
    "extends",
    "context",
    "fromContext",
)
FEDERATION_1_DIRECTIVES = (
    "key",
    "requires",
    "provides",
    "external",
    "extends",
    "tag",
    "inaccessible",
)


@dataclass(frozen=True)
class Link:
    """One ``@link``: its URL and the (imported name, local name) pairs it brings in."""

    url: str
    prefix: str | None
    imports: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FederationNames:
    """The federation version in use and the local-to-canonical directive name map."""

    version: tuple[int, int] | None
    canonical: dict[str, str]
    links: tuple[Link, ...]

    def canonical_name(self, local_name: str) -> str | None:
        return self.canonical.get(local_name)


def directive_arguments(directive: DirectiveNode) -> dict[str, Any]:
    """A directive application's arguments as plain Python values."""
    return {
        argument.name.value: value_from_ast_untyped(argument.value)
        for argument in directive.arguments or ()
    }


def read_link(directive: DirectiveNode) -> Link:
    """Interpret one ``@link(url:, as:, import:)`` application."""
    arguments = directive_arguments(directive)
    url = str(arguments.get("url") or "")
    prefix = arguments.get("as")
    imports: list[tuple[str, str]] = []
    for item in arguments.get("import") or []:
        if isinstance(item, str):
            imports.append((item, item))
        elif isinstance(item, dict) and "name" in item:
            imports.append((str(item["name"]), str(item.get("as") or item["name"])))
    return Link(url=url, prefix=str(prefix) if prefix else None, imports=tuple(imports))


def federation_names(schema_directives: list[DirectiveNode]) -> FederationNames:
    """Resolve the directive names a subgraph uses from its schema-level ``@link``s."""
    links = tuple(read_link(node) for node in schema_directives if node.name.value == "link")
    for link in links:
        match = FEDERATION_URL.match(link.url)
        if match is None:
            continue
        version = (int(match.group(1)), int(match.group(2)))
        prefix = link.prefix or "federation"
        canonical = {f"{prefix}__{name}": name for name in FEDERATION_DIRECTIVES}
        for imported, local in link.imports:
            if imported.startswith("@") and imported[1:] in FEDERATION_DIRECTIVES:
                canonical.pop(f"{prefix}__{imported[1:]}", None)
                canonical[local.lstrip("@")] = imported[1:]
        return FederationNames(version=version, canonical=canonical, links=links)
    return FederationNames(
        version=None, canonical={name: name for name in FEDERATION_1_DIRECTIVES}, links=links
    )
