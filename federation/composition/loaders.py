"""Where subgraph SDL comes from: a file, an in-process strawberry schema, or a running
subgraph's ``_service { sdl }``. Each returns SDL text only; naming and routing are the
caller's."""

from __future__ import annotations

import importlib
from pathlib import Path

import httpx
from graphql import GraphQLSchema, graphql_sync

SERVICE_QUERY = "{ _service { sdl } }"


class SdlLoadError(Exception):
    """The SDL could not be obtained; the message names the source."""


def load_sdl_from_file(path: str | Path) -> str:
    """Read SDL from a file (UTF-8)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SdlLoadError(f"cannot read SDL file {path}: {error.strerror or error}") from None


def load_sdl_from_module(target: str) -> str:
    """Import ``"package.module:attribute"`` and print the federation SDL of that schema.

    Asks the schema for ``_service { sdl }`` when it can answer it, since that is exactly
    what the router would receive over HTTP; a plain SDL string attribute is accepted too.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise SdlLoadError(f'module target "{target}" must look like "package.module:attribute"')
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SdlLoadError(f'cannot import "{module_name}": {error}') from None
    schema = module
    for part in attribute.split("."):
        if not hasattr(schema, part):
            raise SdlLoadError(f'module "{module_name}" has no attribute "{attribute}"')
        schema = getattr(schema, part)
    if (
        callable(schema)
        and not hasattr(schema, "execute_sync")
        and not isinstance(schema, GraphQLSchema)
    ):
        schema = schema()
    if isinstance(schema, str):
        return schema
    if hasattr(schema, "execute_sync"):
        result = schema.execute_sync(SERVICE_QUERY)
        if not result.errors and result.data:
            return result.data["_service"]["sdl"]
        if hasattr(schema, "as_str"):
            return schema.as_str()
    if isinstance(schema, GraphQLSchema):
        result = graphql_sync(schema, SERVICE_QUERY)
        if not result.errors and result.data:
            return result.data["_service"]["sdl"]
    raise SdlLoadError(f'"{target}" is not a federation schema that can print its SDL')


async def fetch_sdl(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    client: httpx.AsyncClient | None = None,
) -> str:
    """POST ``{ _service { sdl } }`` to a running subgraph and return its SDL."""
    owned = client is None
    http = client or httpx.AsyncClient(timeout=timeout)
    try:
        response = await http.post(url, json={"query": SERVICE_QUERY}, headers=headers or {})
    except httpx.HTTPError as error:
        raise SdlLoadError(f"cannot reach subgraph at {url}: {error}") from None
    finally:
        if owned:
            await http.aclose()
    if response.status_code != 200:
        raise SdlLoadError(f"subgraph at {url} answered HTTP {response.status_code}")
    try:
        body = response.json()
        errors = body.get("errors")
        if errors:
            raise SdlLoadError(f"subgraph at {url} returned errors: {errors[0].get('message')}")
        return str(body["data"]["_service"]["sdl"])
    except (ValueError, KeyError, TypeError):
        raise SdlLoadError(f"subgraph at {url} did not return _service.sdl") from None
