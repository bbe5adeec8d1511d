"""The ``compose`` command: read a TOML config, load every subgraph's SDL, write files.

The config format is described in the package docstring (``federation.composition``).
"""

from __future__ import annotations

import asyncio
import sys
import tomllib
from pathlib import Path
from typing import TextIO

from federation.composition.composer import CompositionResult, compose
from federation.composition.errors import CompositionError
from federation.composition.loaders import (
    SdlLoadError,
    fetch_sdl,
    load_sdl_from_file,
    load_sdl_from_module,
)
from federation.composition.sources import SubgraphSource


async def load_sources(config_path: str | Path) -> list[SubgraphSource]:
    """Read the config and obtain every subgraph's SDL; raises CompositionError on problems."""
    path = Path(config_path)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CompositionError([f"cannot read config {path}: {error.strerror or error}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise CompositionError([f"config {path} is not valid TOML: {error}"]) from None
    subgraphs = config.get("subgraphs")
    if not isinstance(subgraphs, dict) or not subgraphs:
        raise CompositionError([f"config {path}: [subgraphs.NAME] tables are missing"])
    sources: list[SubgraphSource] = []
    errors: list[str] = []
    for name, entry in subgraphs.items():
        key = f"subgraphs.{name}"
        if not isinstance(entry, dict):
            errors.append(f"config {path}: {key} must be a table")
            continue
        url = entry.get("routing_url")
        schema = entry.get("schema")
        if not isinstance(url, str) or not url:
            errors.append(f"config {path}: {key}.routing_url is missing")
            continue
        kinds = [
            k for k in ("file", "module", "introspect") if isinstance(schema, dict) and k in schema
        ]
        if len(kinds) != 1:
            errors.append(
                f"config {path}: {key}.schema needs exactly one of file, module or introspect"
            )
            continue
        try:
            sdl = await _load(path.parent, kinds[0], schema)  # type: ignore[arg-type]
        except SdlLoadError as error:
            errors.append(f"config {path}: {key}.schema: {error}")
            continue
        sources.append(SubgraphSource(name=name, url=url, sdl=sdl))
    if errors:
        raise CompositionError(errors)
    return sources


async def _load(base: Path, kind: str, schema: dict) -> str:
    value = schema[kind]
    if kind == "file":
        file_path = Path(value)
        return load_sdl_from_file(file_path if file_path.is_absolute() else base / file_path)
    if kind == "module":
        return load_sdl_from_module(str(value))
    headers = schema.get("headers") or {}
    return await fetch_sdl(str(value), headers={str(k): str(v) for k, v in headers.items()})


def compose_from_config(config_path: str | Path) -> CompositionResult:
    """Load and compose the subgraphs a config lists; raises CompositionError."""
    return compose(asyncio.run(load_sources(config_path)))


def compose_command(
    config_path: str | Path,
    supergraph_path: str | Path,
    api_schema_path: str | Path | None = None,
    *,
    stderr: TextIO | None = None,
) -> int:
    """Write the supergraph (and API schema) files; return a process exit code.

    On failure nothing is written and each error goes to ``stderr`` on its own line.
    """
    errors_out = stderr or sys.stderr
    try:
        result = compose_from_config(config_path)
    except CompositionError as error:
        for message in error.errors:
            print(f"error: {message}", file=errors_out)
        return 1
    Path(supergraph_path).write_text(result.supergraph_sdl + "\n", encoding="utf-8")
    if api_schema_path is not None:
        Path(api_schema_path).write_text(result.api_schema_sdl, encoding="utf-8")
    return 0
