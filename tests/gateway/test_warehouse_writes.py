"""The warehouse app's writes through the public interface: POST /graphql with API keys to the
product app (in process), in front of the reference WMS (a process).

Every answer is checked against the WMS itself: what it holds after the command, and how many
confirmations or adjustments reached it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis_graphql
import pytest
from graphql import build_schema
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.gateway.conftest import callers_requests
from tests.sandbox_processes import Sandbox

KEYS = {
    "warehouse-ams": "key-for-the-amsterdam-warehouse-app",
    "warehouse-rtm": "key-for-the-rotterdam-warehouse-app",
    "portal": "key-for-the-customer-portal",
}

CONFIRM_PICK = """
mutation($task: String!, $quantity: Int, $key: String) {
  confirmPick(taskId: $task, quantity: $quantity, idempotencyKey: $key) {
    __typename
    ... on PickConfirmed { task { taskId state warehouseId quantity doneAt } }
    ... on TaskNotFound { taskId message }
    ... on TaskAlreadyConfirmed { taskId message }
    ... on InsufficientStock { sku warehouseId bin requested onHand message }
    ... on QuantityExceedsTask { requested maximum }
  }
}"""

CONFIRM_PACK = """
mutation($task: String!, $key: String) {
  confirmPack(taskId: $task, idempotencyKey: $key) {
    __typename
    ... on PackConfirmed { task { taskId taskType state } }
    ... on TaskNotFound { taskId }
  }
}"""

ADJUST_STOCK = """
mutation($wh: String!, $bin: String!, $sku: String!, $delta: Int!, $reason: AdjustmentReason!,
         $key: String) {
  adjustStock(warehouseId: $wh, bin: $bin, sku: $sku, delta: $delta, reason: $reason,
              idempotencyKey: $key) {
    __typename
    ... on StockAdjusted { adjustmentId position { onHand quarantined warehouseId bin sku } }
    ... on InsufficientStock { requested onHand message }
    ... on UnknownLocation { warehouseId message }
  }
}"""


SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
LEAK_MARKERS = ("Traceback", "Error:", "Exception", 'File "', "sqlalchemy", "orjson")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture(scope="module")
def app(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory: Path = tmp_path_factory.mktemp("warehouse-writes")
    backends = {
        name: {"url": url, "timeout_s": 1.0, "max_retries": 0, "breaker_failure_threshold": 50}
        for name, url in sandbox.urls().items()
    }
    config = GatewayConfig(
        stores={"database_url": f"sqlite+aiosqlite:///{directory / 'gateway.sqlite3'}"},
        polling={"enabled": False},
        backends=backends,
        clients={
            "warehouse-ams": {
                "tenant": "C-1001",
                "api_key_sha256": digest(KEYS["warehouse-ams"]),
                "scopes": ["read", "warehouse"],
                "warehouses": ["WH-AMS"],
            },
            "warehouse-rtm": {
                "tenant": "C-1002",
                "api_key_sha256": digest(KEYS["warehouse-rtm"]),
                "scopes": ["read", "warehouse"],
                "warehouses": ["WH-RTM"],
            },
            "portal": {"tenant": "C-1001", "api_key_sha256": digest(KEYS["portal"])},
        },
    )
    with TestClient(create_app(config)) as client:
        yield client


def post(
    app: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    client: str | None = "warehouse-ams",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if client is not None:
        sent["X-API-Key"] = KEYS[client]
    return app.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)


def answer(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"][field]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


def wms(sandbox: Sandbox, path: str, **params: Any) -> Any:
    response = httpx.get(
        f"{sandbox.wms}{path}", params=params, headers=sandbox.headers("wms"), timeout=10
    )
    response.raise_for_status()
    return response.json()


def open_tasks(sandbox: Sandbox, warehouse: str, kind: str, count: int = 1) -> list[dict]:
    """Open tasks the tests have not touched, newest orders first (the seed's oldest are done)."""
    tasks = wms(sandbox, "/v2/tasks", warehouse=warehouse, state="open", type=kind, limit=500)
    found = [task for task in reversed(tasks["data"]) if task["qty"] <= 50]
    assert len(found) >= count, f"the seed has {count} open {kind} tasks in {warehouse}"
    return found[:count]


def position(sandbox: Sandbox, warehouse: str, bin_code: str, sku: str) -> dict[str, Any] | None:
    data = wms(sandbox, "/v2/inventory", warehouse=warehouse, bin=bin_code, sku=sku)["data"]
    return data[0] if data else None


def wms_writes(sandbox: Sandbox, path: str) -> int:
    """How many POSTs to `path` the WMS received since the last clear."""
    return sum(
        1
        for request in sandbox.requests("wms")
        if request["method"] == "POST" and request["path"] == path
    )


def set_stock(sandbox: Sandbox, task: dict[str, Any], on_hand: int) -> None:
    """Count the task's bin to `on_hand` through the WMS's own API."""
    current = position(sandbox, task["warehouse"], task["bin"], task["sku"])
    delta = on_hand - (current["on_hand"] if current else 0)
    if delta:
        response = httpx.post(
            f"{sandbox.wms}/v2/adjustments",
            json={**{k: task[k] for k in ("warehouse", "bin", "sku")}, "delta": delta,
                  "reason": "COUNT"},
            headers={**sandbox.headers("wms"), "Idempotency-Key": new_key()},
        )  # fmt: skip
        response.raise_for_status()


# Who may write


def test_an_anonymous_caller_is_refused_before_anything_runs(
    app: TestClient, sandbox: Sandbox
) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    response = post(app, CONFIRM_PICK, {"task": task["task_id"], "key": new_key()}, client=None)
    assert response.status_code == 401
    assert wms(sandbox, f"/v2/tasks/{task['task_id']}")["state"] == "open"


def test_the_portal_key_cannot_write(app: TestClient, sandbox: Sandbox) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    sandbox.clear_requests("wms")
    response = post(app, CONFIRM_PICK, {"task": task["task_id"], "key": new_key()}, client="portal")
    # The router removes the mutation (@requiresScopes warehouse): it never reaches the
    # warehouse subgraph, let alone the WMS.
    assert error_code(response) == "UNAUTHORIZED_FIELD_OR_TYPE"
    assert response.json() == {
        "data": {},
        "errors": [
            {
                "message": "Unauthorized field or type",
                "path": ["confirmPick"],
                "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
            }
        ],
    }
    assert callers_requests(sandbox, "wms") == [], "a refused write never reaches the WMS"


def test_another_warehouses_task_is_answered_as_a_missing_one(
    app: TestClient, sandbox: Sandbox
) -> None:
    (rotterdam,) = open_tasks(sandbox, "WH-RTM", "PICK")
    elsewhere = answer(
        post(app, CONFIRM_PICK, {"task": rotterdam["task_id"], "key": new_key()}), "confirmPick"
    )
    missing = answer(post(app, CONFIRM_PICK, {"task": "T-999999", "key": new_key()}), "confirmPick")
    assert elsewhere["__typename"] == missing["__typename"] == "TaskNotFound"
    assert elsewhere["message"].replace(rotterdam["task_id"], "T-999999") == missing["message"]
    assert wms(sandbox, f"/v2/tasks/{rotterdam['task_id']}")["state"] == "open"


def test_a_pick_task_is_not_confirmed_as_a_pack(app: TestClient, sandbox: Sandbox) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    result = answer(
        post(app, CONFIRM_PACK, {"task": task["task_id"], "key": new_key()}), "confirmPack"
    )
    assert result == {"__typename": "TaskNotFound", "taskId": task["task_id"]}


# Commands and their typed outcomes


def test_a_pick_is_confirmed_once_and_every_retry_gets_the_first_answer(
    app: TestClient, sandbox: Sandbox
) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    set_stock(sandbox, task, task["qty"] + 10)
    sandbox.clear_requests("wms")
    variables = {"task": task["task_id"], "key": new_key()}
    first = answer(post(app, CONFIRM_PICK, variables), "confirmPick")
    assert first["__typename"] == "PickConfirmed" and first["task"]["state"] == "DONE"
    again = answer(post(app, CONFIRM_PICK, variables), "confirmPick")
    assert again == first, "a retry is answered from the stored result"
    assert wms_writes(sandbox, f"/v2/tasks/{task['task_id']}/confirm") == 1
    after = position(sandbox, task["warehouse"], task["bin"], task["sku"])
    assert after is not None and after["on_hand"] == 10, "the stock was taken once"

    other_key = answer(post(app, CONFIRM_PICK, {**variables, "key": new_key()}), "confirmPick")
    assert other_key["__typename"] == "TaskAlreadyConfirmed"


def test_the_same_key_with_other_arguments_is_refused(app: TestClient, sandbox: Sandbox) -> None:
    first, second = open_tasks(sandbox, "WH-AMS", "PICK", 2)
    set_stock(sandbox, first, first["qty"])
    key = new_key()
    answer(post(app, CONFIRM_PICK, {"task": first["task_id"], "key": key}), "confirmPick")
    reused = post(app, CONFIRM_PICK, {"task": second["task_id"], "key": key})
    assert error_code(reused) == "IDEMPOTENCY_KEY_REUSED"
    assert wms(sandbox, f"/v2/tasks/{second['task_id']}")["state"] == "open"


def test_a_short_bin_is_insufficient_stock_and_the_task_stays_open(
    app: TestClient, sandbox: Sandbox
) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    set_stock(sandbox, task, 0)
    result = answer(
        post(app, CONFIRM_PICK, {"task": task["task_id"], "key": new_key()}), "confirmPick"
    )
    assert result["__typename"] == "InsufficientStock"
    assert (result["sku"], result["warehouseId"], result["bin"]) == (
        task["sku"], task["warehouse"], task["bin"]
    )  # fmt: skip
    assert result["onHand"] == "0" and result["requested"] == str(task["qty"])
    assert wms(sandbox, f"/v2/tasks/{task['task_id']}")["state"] == "open"


def test_more_than_the_task_holds_is_its_own_answer(app: TestClient, sandbox: Sandbox) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    variables = {"task": task["task_id"], "quantity": task["qty"] + 1, "key": new_key()}
    result = answer(post(app, CONFIRM_PICK, variables), "confirmPick")
    assert result == {
        "__typename": "QuantityExceedsTask",
        "requested": str(task["qty"] + 1),
        "maximum": str(task["qty"]),
    }


def test_a_pack_is_confirmed(app: TestClient, sandbox: Sandbox) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PACK")
    result = answer(
        post(app, CONFIRM_PACK, {"task": task["task_id"], "key": new_key()}), "confirmPack"
    )
    assert result == {
        "__typename": "PackConfirmed",
        "task": {"taskId": task["task_id"], "taskType": "PACK", "state": "DONE"},
    }


def test_stock_is_adjusted_once_per_key(app: TestClient, sandbox: Sandbox) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    set_stock(sandbox, task, 20)
    sandbox.clear_requests("wms")
    variables = {
        "wh": task["warehouse"], "bin": task["bin"], "sku": task["sku"], "delta": -3,
        "reason": "DAMAGED", "key": new_key(),
    }  # fmt: skip
    first = answer(post(app, ADJUST_STOCK, variables), "adjustStock")
    again = answer(post(app, ADJUST_STOCK, variables), "adjustStock")
    assert (
        first == again
        and first["__typename"] == "StockAdjusted"
        and first["position"]["onHand"] == "17"
    )
    assert wms_writes(sandbox, "/v2/adjustments") == 1
    assert position(sandbox, task["warehouse"], task["bin"], task["sku"])["on_hand"] == 17

    short = answer(
        post(app, ADJUST_STOCK, {**variables, "delta": -18, "key": new_key()}), "adjustStock"
    )
    assert short["__typename"] == "InsufficientStock" and short["onHand"] == "17"


def test_another_or_unknown_warehouse_is_an_unknown_location(
    app: TestClient, sandbox: Sandbox
) -> None:
    sandbox.clear_requests("wms")
    answers = []
    for warehouse in ("WH-RTM", "WH-NOWHERE"):
        variables = {
            "wh": warehouse, "bin": "A-01-01", "sku": "MAT-0001", "delta": 5,
            "reason": "FOUND", "key": new_key(),
        }  # fmt: skip
        answers.append(answer(post(app, ADJUST_STOCK, variables), "adjustStock"))
    assert [a["__typename"] for a in answers] == ["UnknownLocation", "UnknownLocation"]
    assert wms_writes(sandbox, "/v2/adjustments") == 0


# The idempotency key


def test_the_key_may_come_as_the_idempotency_key_header(app: TestClient, sandbox: Sandbox) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PACK")
    key = new_key()
    by_header = post(app, CONFIRM_PACK, {"task": task["task_id"]}, headers={"Idempotency-Key": key})
    by_argument = post(app, CONFIRM_PACK, {"task": task["task_id"], "key": key})
    assert answer(by_header, "confirmPack") == answer(by_argument, "confirmPack")
    assert answer(by_header, "confirmPack")["__typename"] == "PackConfirmed"


@pytest.mark.parametrize(
    ("key", "header", "problem"),
    [
        (None, None, "is required"),
        ("k" * 129, None, "8 to 128"),
        ("short", None, "8 to 128"),
        ("has a space in it", None, "8 to 128"),
        ("-starts-with-dash", None, "8 to 128"),
        ("clé-unicode-1234", None, "8 to 128"),
        ("argument-key-1234", "header-key-12345", "differ"),
        (None, "x" * 129, "8 to 128"),
    ],
)
def test_a_missing_malformed_or_conflicting_key_is_the_callers_error(
    app: TestClient, key: str | None, header: str | None, problem: str
) -> None:
    headers = {"Idempotency-Key": header} if header else {}
    response = post(app, CONFIRM_PICK, {"task": "T-200001", "key": key}, headers=headers)
    assert error_code(response) == "BAD_USER_INPUT"
    assert problem in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "variables", "problem"),
    [
        (CONFIRM_PICK, {"task": "T" * 65}, "taskId is not a valid identifier"),
        (CONFIRM_PICK, {"task": "../admin"}, "taskId is not a valid identifier"),
        (CONFIRM_PICK, {"task": "T-200001", "quantity": 0}, "quantity must be between"),
        (CONFIRM_PICK, {"task": "T-200001", "quantity": 10**6}, "quantity must be between"),
        (
            ADJUST_STOCK,
            {"wh": "WH-AMS", "bin": "A-01-01", "sku": "M", "delta": 0, "reason": "COUNT"},
            "delta must be a non-zero",
        ),
        (
            ADJUST_STOCK,
            {"wh": "WH-AMS", "bin": "A/01", "sku": "M", "delta": 1, "reason": "COUNT"},
            "bin is not a valid identifier",
        ),
    ],
)
def test_malformed_or_oversized_arguments_never_reach_the_wms(
    app: TestClient, sandbox: Sandbox, query: str, variables: dict, problem: str
) -> None:
    sandbox.clear_requests("wms")
    response = post(app, query, {**variables, "key": new_key()})
    assert error_code(response) == "BAD_USER_INPUT"
    assert problem in response.json()["errors"][0]["message"]
    assert callers_requests(sandbox, "wms") == []


def test_an_unknown_reason_code_is_refused_by_the_schema(app: TestClient) -> None:
    variables = {"wh": "WH-AMS", "bin": "A-01-01", "sku": "M", "delta": 1, "reason": "LOST"}
    response = post(app, ADJUST_STOCK, {**variables, "key": new_key()})
    assert response.json()["errors"] and "LOST" in response.json()["errors"][0]["message"]


def test_an_expensive_mutation_document_is_refused_before_anything_runs(
    app: TestClient, sandbox: Sandbox
) -> None:
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    sandbox.clear_requests("wms")
    aliases = "\n".join(
        f'a{n}: confirmPick(taskId: "{task["task_id"]}", idempotencyKey: "flood-key-{n:04d}") '
        "{ __typename }"
        for n in range(200)
    )
    response = post(app, f"mutation {{ {aliases} }}")
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"
    assert callers_requests(sandbox, "wms") == [], "only the pollers of other gateways"


@pytest.mark.parametrize("root_field", sorted(SCHEMA.mutation_type.fields))
def test_generated_mutations_get_no_5xx_and_only_coded_errors(
    app: TestClient, root_field: str
) -> None:
    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(query=hypothesis_graphql.mutations(SCHEMA, fields=[root_field]))
    def write(query: str) -> None:
        response = post(app, query, headers={"Idempotency-Key": new_key()})
        assert response.status_code < 500, f"{response.status_code} for {query}"
        assert "Unexpected error." not in response.text, f"{query}\n{response.text[:500]}"
        assert not any(marker in response.text for marker in LEAK_MARKERS), response.text[:500]
        for error in response.json().get("errors") or []:
            assert (error.get("extensions") or {}).get("code"), f"{query}: {error} has no code"

    write()


# A backend that is slow or away


def test_a_first_attempt_that_timed_out_after_the_wms_applied_it_is_answered_on_retry(
    app: TestClient, clean_faults: Sandbox
) -> None:
    sandbox = clean_faults
    (task,) = open_tasks(sandbox, "WH-AMS", "PICK")
    set_stock(sandbox, task, task["qty"] + 5)
    sandbox.clear_requests("wms")
    variables = {"task": task["task_id"], "key": new_key()}
    sandbox.set_faults("wms", write_latency_ms=3000)  # the gateway waits 1 s per attempt
    timed_out = post(app, CONFIRM_PICK, variables)
    assert error_code(timed_out) == "BACKEND_TIMEOUT"
    assert "retry with the same idempotency key" in timed_out.json()["errors"][0]["message"]
    _wait_until_done(sandbox, task["task_id"])  # the WMS applied it; its answer came too late
    sandbox.reset_faults("wms")

    retried = answer(post(app, CONFIRM_PICK, variables), "confirmPick")
    assert retried["__typename"] == "PickConfirmed"
    applied = wms(sandbox, f"/v2/tasks/{task['task_id']}")
    assert retried["task"]["doneAt"] == applied["done_at"].replace("Z", "+00:00")
    assert wms_writes(sandbox, f"/v2/tasks/{task['task_id']}/confirm") == 2
    after = position(sandbox, task["warehouse"], task["bin"], task["sku"])
    assert after is not None and after["on_hand"] == 5, "two calls, the stock taken once"


def test_an_unavailable_wms_records_nothing_and_the_retry_runs(
    app: TestClient, clean_faults: Sandbox
) -> None:
    sandbox = clean_faults
    (task,) = open_tasks(sandbox, "WH-AMS", "PACK")
    variables = {"task": task["task_id"], "key": new_key()}
    sandbox.set_faults("wms", outage=True)
    down = post(app, CONFIRM_PACK, variables)
    assert error_code(down) == "BACKEND_UNAVAILABLE"
    sandbox.reset_faults("wms")
    assert (
        answer(post(app, CONFIRM_PACK, variables), "confirmPack")["__typename"] == "PackConfirmed"
    )


def _wait_until_done(sandbox: Sandbox, task_id: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if wms(sandbox, f"/v2/tasks/{task_id}")["state"] == "done":
            return
        time.sleep(0.1)
    pytest.fail(f"the WMS never applied the confirmation of {task_id}")
