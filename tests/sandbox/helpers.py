"""Small HTTP helpers for the sandbox tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.sandbox_processes import Sandbox


async def erp_request(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    method: str,
    path: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> httpx.Response:
    """Call the ERP, waiting out its own rate limit the way a polite client does.

    The rate limit is per API key and other tests share the key, so any test may meet it.
    """
    for _ in range(10):
        response = await client.request(
            method,
            f"{sandbox.erp}{path}",
            params=params,
            json=json,
            headers={**sandbox.headers("erp"), **(headers or {})},
        )
        if response.status_code != 429:
            return response
        await asyncio.sleep(int(response.headers["retry-after"]))
    return response


async def erp_get(
    client: httpx.AsyncClient, sandbox: Sandbox, path: str, **params: Any
) -> httpx.Response:
    return await erp_request(client, sandbox, "GET", path, **params)


def parse_interchanges(text: str) -> list[dict[str, Any]]:
    """Split an X12 stream into interchanges, reading the delimiters from each ISA header."""
    interchanges = []
    position = 0
    while (start := text.find("ISA", position)) >= 0:
        element, terminator = text[start + 3], text[start + 105]
        header = text[start : start + 106]
        segments: list[list[str]] = []
        cursor = start
        while not segments or segments[-1][0] != "IEA":
            end = text.index(terminator, cursor)
            segments.append(text[cursor:end].split(element))
            cursor = end + 1
        interchanges.append(
            {"element": element, "terminator": terminator, "header": header, "segments": segments}
        )
        position = cursor
    return interchanges
