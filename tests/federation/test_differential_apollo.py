"""Differential test: our router and Apollo Gateway answer the same operations identically.

Both gateways serve the bench supergraph over the bench subgraphs (one server on loopback).
The operations are generated from a fixed seed over the bench schema and lean on what
normalisation must get right: one response key selected several times (with the same or
different sub-selections), aliases, inline and named fragments, and @skip/@include with
variables. Each answer is compared key order included, as clients see it.

Apollo Gateway is installed with npm on first use (in bench/.peer, as the benchmark does).
Without node and npm the test is skipped locally and fails under CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import orjson
import pytest

from bench.run import SUBGRAPH_PORT_IN_SDL, SUPERGRAPH
from federation.router import Router, Supergraph
from tests.federation.conftest import free_port

OPERATION_COUNT = 240
SEED = 7
#: Operations in flight at once: the gateways and the subgraphs are separate processes.
CONCURRENCY = 6
REPOSITORY = Path(__file__).resolve().parents[2]


def _peer_or_skip() -> Path:
    """The installed Apollo peer; without node, npm or the install it skips, under CI fails."""

    def unavailable(message: str) -> NoReturn:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        unavailable(f"the differential test needs {' and '.join(missing)} on PATH")
    from bench.run import _ensure_peer

    try:
        return _ensure_peer()
    except (OSError, subprocess.SubprocessError) as error:
        unavailable(f"Apollo Gateway could not be installed in bench/.peer: {error}")


@contextlib.contextmanager
def _process(command: list[str], health: str, cwd: Path, env: dict[str, str]) -> Iterator[None]:
    """A server process for the duration of the block, stopped by its own process group."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
                pytest.fail(f"{command[0]} exited: {output}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{' '.join(command)} did not start within 30 s")
            time.sleep(0.1)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# -- the operations ----------------------------------------------------------------------------

#: The bench schema: per type, its fields and, for composite ones, the type they return.
_FIELDS: dict[str, dict[str, str | None]] = {
    "Query": {"orders": "Order", "order": "Order"},
    "Order": {
        "id": None,
        "number": None,
        "customer": None,
        "total": None,
        "currency": None,
        "createdAt": None,
        "shipment": "Shipment",
    },
    "Shipment": {
        "id": None,
        "carrier": None,
        "trackingNumber": None,
        "weightKg": None,
        "status": None,
        "eta": None,
        "milestones": "Milestone",
    },
    "Milestone": {"code": None, "at": None, "location": None},
    "Mutation": {"bookPickup": "Pickup"},
    "Pickup": {"count": None, "order": "Order"},
}

#: Arguments per field, fixed per response key so that repeated keys stay mergeable.
_ARGUMENTS = {
    ("Query", "orders"): ["(first: 2)", "(first: 4)", ""],
    ("Query", "order"): ['(id: "O-3")', '(id: "O-8")'],
    ("Mutation", "bookPickup"): [
        '(reference: $ref, orderId: "O-2")',
        '(reference: $ref, orderId: "O-5")',
    ],
}


@dataclass
class _Operation:
    """One generated operation; a mutation books pickups under its own ``$ref`` per gateway,
    so that each side's count says how often that gateway ran the mutation field."""

    text: str
    variables: dict[str, Any]
    mutation: bool

    def variables_for(self, gateway: str, number: int) -> dict[str, Any]:
        if not self.mutation:
            return self.variables
        return {**self.variables, "ref": f"{gateway}-{number}"}


class _Generator:
    """Random valid operations over the bench schema, reproducible from one seed."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.fragments: dict[str, str] = {}

    def operation(self) -> _Operation:
        self.fragments = {}
        mutation = self.random.random() < 0.3
        root = "Mutation" if mutation else "Query"
        body = self.selection_set(root, depth=0)
        fragments = "".join(
            f"\nfragment {name} on {definition}" for name, definition in self.fragments.items()
        )
        used = "a: __typename @include(if: $a) b: __typename @skip(if: $b)"
        if mutation:
            text = f"mutation M($a: Boolean!, $b: Boolean!, $ref: String!) {{ {used} {body[1:]}"
            if "$ref" not in body + fragments:
                text = text.replace(", $ref: String!", "")
        else:
            text = f"query Q($a: Boolean!, $b: Boolean!) {{ {used} {body[1:]}"
        variables = {"a": self.random.random() < 0.5, "b": self.random.random() < 0.5}
        return _Operation(text + fragments, variables, mutation and "$ref" in text)

    def selection_set(self, type_name: str, depth: int) -> str:
        parts = [self.selection(type_name, depth) for _ in range(self.random.randint(1, 3))]
        if type_name not in ("Query", "Mutation"):
            # One field always included: Apollo Gateway answers null, with an error in
            # extensions only, for an object whose every field is excluded.
            leaves = [name for name, child in _FIELDS[type_name].items() if child is None]
            parts.insert(0, self.random.choice(leaves))
        if type_name != "Query" and self.random.random() < 0.3:
            parts.insert(self.random.randrange(len(parts) + 1), "__typename")
        return "{ " + " ".join(parts) + " }"

    def selection(self, type_name: str, depth: int) -> str:
        roll = self.random.random()
        if roll < 0.15 and depth < 3:
            inner = self.selection_set(type_name, depth + 1)
            on = f"on {type_name} " if self.random.random() < 0.5 else ""
            return f"... {on}{self.condition(always=True)}{inner}"
        if roll < 0.25 and depth < 3:
            name = f"F{len(self.fragments)}"
            self.fragments[name] = "placeholder"
            self.fragments[name] = f"{type_name} {self.selection_set(type_name, depth + 1)}"
            return f"...{name}{self.condition()}"
        return self.field(type_name, depth)

    def field(self, type_name: str, depth: int) -> str:
        fields = _FIELDS[type_name]
        name = self.random.choice(list(fields))
        child = fields[name]
        if child is not None and depth >= 4:
            name = next((f for f, t in fields.items() if t is None), name)
            child = fields[name]
        text = name
        arguments = _ARGUMENTS.get((type_name, name))
        if arguments is not None:
            index = self.random.randrange(len(arguments))
            text = (f"{name}{index}: " if index else "") + name + arguments[index]
        elif self.random.random() < 0.2:
            text = f"{name}Alias: {name}"
        text += self.condition()
        if child is not None:
            text += " " + self.selection_set(child, depth + 1)
        return text

    def condition(self, always: bool = False) -> str:
        if not always and self.random.random() < 0.65:
            return ""
        if always and self.random.random() < 0.5:
            return ""
        directive = self.random.choice(("skip", "include"))
        value = self.random.choice(("$a", "$b", "$a", "$b", "true", "false"))
        return f" @{directive}(if: {value}) "


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Router, str]]:
    peer = _peer_or_skip()
    subgraph_port, apollo_port = free_port(), free_port()
    sdl = SUPERGRAPH.read_text().replace(
        f"127.0.0.1:{SUBGRAPH_PORT_IN_SDL}", f"127.0.0.1:{subgraph_port}"
    )
    supergraph_file = tmp_path_factory.mktemp("differential") / "supergraph.graphql"
    supergraph_file.write_text(sdl)
    with (
        _process(
            [sys.executable, "-m", "bench.subgraphs"],
            f"http://127.0.0.1:{subgraph_port}/health",
            REPOSITORY,
            {"BENCH_SUBGRAPH_PORT": str(subgraph_port)},
        ),
        _process(
            ["node", str(peer / "gateway.mjs"), str(supergraph_file), str(apollo_port)],
            f"http://127.0.0.1:{apollo_port}/health",
            peer,
            {"NODE_ENV": "production"},
        ),
    ):
        yield Router(Supergraph.from_sdl(sdl)), f"http://127.0.0.1:{apollo_port}/graphql"


def _comparable(answer: dict[str, Any]) -> tuple[Any, bool]:
    """Data (key order aside: Apollo Gateway does not follow CollectFields order once
    @include moves a key) and whether there were errors; 42.0 equals 42 as in JSON."""
    return answer.get("data"), bool(answer.get("errors"))


async def test_router_answers_like_apollo_gateway(gateways: tuple[Router, str]) -> None:
    router, apollo_url = gateways
    generator = _Generator(SEED)
    operations = [generator.operation() for _ in range(OPERATION_COUNT)]
    differences: list[str] = []

    async def compare(client: httpx.AsyncClient, number: int, operation: _Operation) -> None:
        payload = {"query": operation.text, "variables": operation.variables_for("apollo", number)}
        reply, ours = await asyncio.gather(
            client.post(apollo_url, json=payload),
            router.execute(operation.text, operation.variables_for("ours", number)),
        )
        theirs = reply.json()
        if _comparable(ours) != _comparable(theirs):
            differences.append(
                f"{operation.text}\n  variables {operation.variables}"
                f"\n  ours:   {orjson.dumps(ours).decode()[:600]}"
                f"\n  apollo: {orjson.dumps(theirs).decode()[:600]}"
            )

    async with httpx.AsyncClient(timeout=30) as client:
        for start in range(0, len(operations), CONCURRENCY):
            batch = range(start, min(start + CONCURRENCY, len(operations)))
            await asyncio.gather(*(compare(client, number, operations[number]) for number in batch))
    await router.aclose()
    assert not differences, f"{len(differences)} operations differ, first:\n" + "\n".join(
        differences[:3]
    )
