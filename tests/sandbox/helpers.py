"""Small HTTP helpers for the sandbox tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.sandbox_processes import Sandbox


async def erp_get(
    client: httpx.AsyncClient, sandbox: Sandbox, path: str, **params: Any
) -> httpx.Response:
    """GET from the ERP, waiting out its own rate limit the way a polite client does."""
    for _ in range(10):
        response = await client.get(
            f"{sandbox.erp}{path}", params=params, headers=sandbox.headers("erp")
        )
        if response.status_code != 429:
            return response
        await asyncio.sleep(int(response.headers["retry-after"]))
    return response


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
