"""Warehouse commands: confirm a pick, confirm a pack, adjust stock, each exactly once per key.

A command claims the caller's idempotency key in the shared store before it calls the WMS, and
stores the outcome after; every retry (in this process or another sharing the store) gets the
stored outcome and changes nothing. The WMS call carries an idempotency key derived from the
caller's (the same for every retry of one command), so when an attempt timed out after the
WMS had applied it, the retry receives the WMS's own stored answer instead of a second change.

Backend trouble (unavailable, throttled, timed out) is not an outcome: the claim is released,
nothing is stored, and the error says to retry with the same key. A command acts only in the
caller's warehouses; a task or bin elsewhere is answered exactly as a missing one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from domain.locations import Location
from process_apis.warehouse_outcomes import (
    AdjustOutcome,
    InsufficientStock,
    Outcome,
    PackConfirmed,
    PackOutcome,
    PickConfirmed,
    PickOutcome,
    QuantityExceedsTask,
    StockAdjusted,
    TaskAlreadyConfirmed,
    TaskNotFound,
    UnknownLocation,
    outcome_from_record,
    outcome_to_record,
)
from stores.idempotency import (
    IdempotencyKeyReused,
    IdempotencyStore,
    InProgress,
    RecordKey,
    Replay,
    Started,
)
from system_apis.errors import BackendNotFound, BackendRejected
from system_apis.wms.client import WmsClient
from system_apis.wms.models import AdjustmentReason, PickTask, TaskType

__all__ = ["Actor", "CommandInProgress", "IdempotencyKeyReused", "WarehouseCommands"]

AnyOutcome = TypeVar("AnyOutcome", bound=Outcome)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who gives the command: the tenant and client it is scoped to, the warehouses it may
    act in (plain values, so the process layer needs nothing of the request policies)."""

    tenant_id: str
    client_id: str
    warehouses: frozenset[str]

    @property
    def scope(self) -> str:
        return f"{self.tenant_id}/{self.client_id}"


class CommandInProgress(Exception):
    """Another request holds this key and is still running the command: retry shortly."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("a request with this idempotency key is still in progress; retry")
        self.retry_after_s = retry_after_s


class WarehouseCommands:
    """The warehouse app's writes. `wait_s` is how long a duplicate waits for a running
    command's outcome (polling every `poll_s`) before it is told to retry."""

    def __init__(
        self,
        wms: WmsClient,
        records: IdempotencyStore,
        *,
        wait_s: float = 2.0,
        poll_s: float = 0.1,
    ) -> None:
        self._wms = wms
        self._records = records
        self._wait_s = wait_s
        self._poll_s = poll_s

    async def confirm_pick(
        self, actor: Actor, idempotency_key: str, task_id: str, quantity: int | None
    ) -> PickOutcome:
        arguments = {"task_id": task_id, "quantity": quantity}

        async def run(backend_key: str) -> PickOutcome:
            return await self._confirm(
                actor, TaskType.PICK, task_id, quantity, backend_key, PickConfirmed
            )

        return await self._once(actor, "confirm_pick", idempotency_key, arguments, run)

    async def confirm_pack(
        self, actor: Actor, idempotency_key: str, task_id: str, quantity: int | None
    ) -> PackOutcome:
        arguments = {"task_id": task_id, "quantity": quantity}

        async def run(backend_key: str) -> PackOutcome:
            outcome = await self._confirm(
                actor, TaskType.PACK, task_id, quantity, backend_key, PackConfirmed
            )
            assert not isinstance(outcome, InsufficientStock), "a pack takes no stock"
            return outcome

        return await self._once(actor, "confirm_pack", idempotency_key, arguments, run)

    async def adjust_stock(
        self,
        actor: Actor,
        idempotency_key: str,
        location: Location,
        sku: str,
        delta: int,
        reason: AdjustmentReason,
    ) -> AdjustOutcome:
        arguments = {
            "warehouse_id": location.warehouse_id,
            "bin": location.bin,
            "sku": sku,
            "delta": delta,
            "reason": reason.value,
        }

        async def run(backend_key: str) -> AdjustOutcome:
            if location.warehouse_id not in actor.warehouses:
                return UnknownLocation(location)
            try:
                adjustment = await self._wms.post_adjustment(
                    location, sku, delta=delta, reason=reason, idempotency_key=backend_key
                )
            except BackendRejected as error:
                return _adjustment_refusal(error, location, sku, delta)
            return StockAdjusted(adjustment)

        return await self._once(actor, "adjust_stock", idempotency_key, arguments, run)

    async def _confirm(
        self,
        actor: Actor,
        kind: TaskType,
        task_id: str,
        quantity: int | None,
        backend_key: str,
        confirmed: Callable[[PickTask], Any],
    ) -> Any:
        try:
            task = await self._wms.task(task_id)
        except BackendNotFound:
            return TaskNotFound(task_id)
        if task.task_type is not kind or task.location.warehouse_id not in actor.warehouses:
            return TaskNotFound(task_id)
        requested = task.quantity if quantity is None else Decimal(quantity)
        if requested > task.quantity:
            return QuantityExceedsTask(task_id, requested, task.quantity)
        try:
            done = await self._wms.confirm_task(
                task_id, quantity=requested, operator=actor.client_id, idempotency_key=backend_key
            )
        except BackendNotFound:
            return TaskNotFound(task_id)
        except BackendRejected as error:
            if error.status_code == 409 and error.reason == "insufficient_stock":
                return InsufficientStock(
                    task.sku, task.location, requested, _on_hand_in(error.details)
                )
            if error.status_code == 409:
                return TaskAlreadyConfirmed(task_id)
            raise
        return confirmed(done)

    async def _once(
        self,
        actor: Actor,
        operation: str,
        idempotency_key: str,
        arguments: Mapping[str, Any],
        run: Callable[[str], Awaitable[AnyOutcome]],
    ) -> AnyOutcome:
        record = RecordKey(actor.scope, operation, idempotency_key)
        fingerprint = _fingerprint(operation, arguments)
        claim = await self._claim(record, fingerprint)
        if isinstance(claim, Replay):
            return outcome_from_record(claim.result)  # type: ignore[return-value]
        try:
            outcome = await run(_backend_key(record, fingerprint))
        except BaseException:
            await asyncio.shield(self._records.release(record, claim.token))
            raise
        await self._records.complete(record, claim.token, outcome_to_record(outcome))
        return outcome

    async def _claim(self, record: RecordKey, fingerprint: str) -> Started | Replay:
        """Claim the key, waiting up to `wait_s` for a running duplicate to finish."""
        attempts = max(1, int(self._wait_s / self._poll_s) + 1)
        for attempt in range(attempts):
            claim = await self._records.claim(record, fingerprint)
            if not isinstance(claim, InProgress):
                return claim
            if attempt + 1 < attempts:
                await asyncio.sleep(self._poll_s)
        retry_after = (claim.locked_until - datetime.now(UTC)).total_seconds()
        raise CommandInProgress(min(max(retry_after, self._poll_s), self._wait_s))


def _fingerprint(operation: str, arguments: Mapping[str, Any]) -> str:
    canonical = orjson.dumps({"operation": operation, **arguments}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _backend_key(record: RecordKey, fingerprint: str) -> str:
    """The key the WMS sees: the same for every retry of one command, distinct per caller (two
    clients choosing one key never collide in the WMS) and per arguments (a key reused after
    its record expired never replays the WMS's answer to another command)."""
    material = "\n".join((record.scope, record.operation, record.key, fingerprint))
    return f"lg-{hashlib.sha256(material.encode()).hexdigest()[:48]}"


def _adjustment_refusal(
    error: BackendRejected, location: Location, sku: str, delta: int
) -> AdjustOutcome:
    """The WMS's 422 details as an outcome; a refusal of any other kind stays an error."""
    fields = {detail.get("field"): str(detail.get("message", "")) for detail in _details(error)}
    if error.status_code == 422 and "warehouse" in fields:
        return UnknownLocation(location)
    if error.status_code == 422 and ("delta" in fields or "bin" in fields) and delta < 0:
        return InsufficientStock(sku, location, Decimal(-delta), _on_hand_in(error.details))
    raise error


def _details(error: BackendRejected) -> list[Mapping[str, Any]]:
    details = error.details if isinstance(error.details, list) else []
    return [detail for detail in details if isinstance(detail, Mapping)]


def _on_hand_in(details: Any) -> Decimal | None:
    """The WMS's count of the bin when its refusal states it (`on_hand` in a detail)."""
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, Mapping) and isinstance(detail.get("on_hand"), int):
            return Decimal(detail["on_hand"])
    return None
