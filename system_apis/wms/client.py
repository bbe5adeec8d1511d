"""The WMS's REST API as canonical operations: stock positions, tasks, confirmations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from domain.inventory import InventoryPosition
from domain.locations import Location
from domain.parties import Address
from domain.returns import ReceiptLine, ReturnReceipt
from system_apis import fields
from system_apis.api import BackendApi
from system_apis.errors import BackendNotFound, BackendRejected
from system_apis.paging import Page, iterate_pages, page_of, records_of
from system_apis.resilience.client import BackendClient
from system_apis.settings import BackendSettings
from system_apis.telemetry import NO_BACKEND_TELEMETRY, BackendTelemetry
from system_apis.urls import segment
from system_apis.wms.mapping import (
    adjustment_from_wms,
    adjustment_to_wms,
    confirmation_to_wms,
    position_batch_from_wms,
    position_from_wms,
    task_from_wms,
)
from system_apis.wms.models import AdjustmentReason, PickTask, PositionBatch, StockAdjustment
from system_apis.wms.returns import receipt_from_wms, receipt_refusal, receipt_to_wms

T = TypeVar("T")


class WmsClient(BackendApi):
    """Reads stock and tasks from the WMS; confirms tasks and posts adjustments idempotently."""

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: BackendTelemetry = NO_BACKEND_TELEMETRY,
    ) -> WmsClient:
        return cls(
            BackendClient(
                settings,
                headers={"Authorization": f"Bearer {settings.credential}"},
                transport=transport,
                telemetry=telemetry,
            )
        )

    async def inventory_page(
        self,
        *,
        sku: str | None = None,
        warehouse_id: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        correlation_id: str | None = None,
    ) -> Page[InventoryPosition]:
        operation = "list inventory"
        answer = await self._backend.get_json(
            "/v2/inventory",
            operation=operation,
            params={"sku": sku, "warehouse": warehouse_id, "cursor": cursor, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, _inventory_page, answer)

    async def positions_batch(
        self, *, cursor: str | None = None, limit: int = 500, correlation_id: str | None = None
    ) -> PositionBatch:
        """One page of every warehouse's stock, record by record: a position that does not map,
        or has no revision to order it by, is set aside in `rejected`, not the whole page."""
        operation = "list inventory"
        answer = await self._backend.get_json(
            "/v2/inventory",
            operation=operation,
            params={"cursor": cursor, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, position_batch_from_wms, answer)

    def inventory(
        self,
        *,
        sku: str | None = None,
        warehouse_id: str | None = None,
        page_size: int = 100,
        correlation_id: str | None = None,
    ) -> AsyncIterator[InventoryPosition]:
        """Every matching position, following the WMS's cursor as the caller iterates."""
        return iterate_pages(
            lambda cursor: self.inventory_page(
                sku=sku,
                warehouse_id=warehouse_id,
                cursor=cursor,
                limit=page_size,
                correlation_id=correlation_id,
            )
        )

    async def tasks_for_order(
        self, order_id: str, *, correlation_id: str | None = None
    ) -> tuple[PickTask, ...]:
        operation = "list tasks"
        answer = await self._backend.get_json(
            "/v2/tasks",
            operation=operation,
            params={"order_ref": order_id},
            correlation_id=correlation_id,
        )
        return self._map(operation, _tasks, answer)

    async def task(self, task_id: str, *, correlation_id: str | None = None) -> PickTask:
        operation = "get task"
        answer = await self._backend.get_json(
            f"/v2/tasks/{segment(task_id)}", operation=operation, correlation_id=correlation_id
        )
        return self._map(operation, task_from_wms, answer)

    async def confirm_task(
        self,
        task_id: str,
        *,
        quantity: Decimal | int,
        operator: str,
        idempotency_key: str,
        correlation_id: str | None = None,
    ) -> PickTask:
        """Confirm a task done; safe to retry with the same key."""
        operation = "confirm task"
        answer = await self._backend.send_json(
            "POST",
            f"/v2/tasks/{segment(task_id)}/confirm",
            operation=operation,
            json=confirmation_to_wms(quantity, operator),
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, _task_answer, answer)

    async def post_adjustment(
        self,
        location: Location,
        sku: str,
        *,
        delta: Decimal | int,
        reason: AdjustmentReason,
        idempotency_key: str,
        correlation_id: str | None = None,
    ) -> StockAdjustment:
        """Adjust stock in a bin; the same key again returns the same adjustment, applied once."""
        operation = "post adjustment"
        answer = await self._backend.send_json(
            "POST",
            "/v2/adjustments",
            operation=operation,
            json=adjustment_to_wms(location, sku, delta, reason),
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, adjustment_from_wms, answer)

    async def return_receipts_page(
        self,
        rma_ids: Sequence[str],
        *,
        cursor: str | None = None,
        limit: int = 500,
        correlation_id: str | None = None,
    ) -> Page[ReturnReceipt]:
        operation = "list return receipts"
        answer = await self._backend.get_json(
            "/v2/returns",
            operation=operation,
            params={"rma_ref": list(rma_ids), "cursor": cursor, "limit": limit},
            correlation_id=correlation_id,
        )
        return self._map(operation, _receipts_page, answer)

    async def return_receipts(
        self, rma_ids: Sequence[str], *, correlation_id: str | None = None
    ) -> tuple[ReturnReceipt, ...]:
        """The receipts of any of the RMAs, in one listing (page by page)."""
        if not rma_ids:
            return ()
        pages = iterate_pages(
            lambda cursor: self.return_receipts_page(
                rma_ids, cursor=cursor, correlation_id=correlation_id
            )
        )
        return tuple([receipt async for receipt in pages])

    async def receive_return(
        self,
        rma_id: str,
        *,
        customer_id: str,
        warehouse_id: str,
        lines: Sequence[ReceiptLine],
        idempotency_key: str,
        correlation_id: str | None = None,
    ) -> ReturnReceipt:
        """Record goods received against an RMA, each line graded; safe to retry with the key.

        Raises `AlreadyReceived` when the WMS received this RMA before under another key.
        """
        operation = "receive return"
        try:
            answer = await self._backend.send_json(
                "POST",
                "/v2/returns",
                operation=operation,
                json=receipt_to_wms(rma_id, customer_id, warehouse_id, lines),
                idempotency_key=idempotency_key,
                correlation_id=correlation_id,
            )
        except BackendRejected as error:
            raise receipt_refusal(error) from None
        return self._map(operation, receipt_from_wms, answer)

    async def ship_from(self, warehouse_id: str, *, correlation_id: str | None = None) -> Address:
        """The address a warehouse ships from (carriers rate by its country and postal code);
        `BackendNotFound` for a warehouse the WMS does not run."""
        operation = "list warehouses"
        answer = await self._backend.get_json(
            "/v2/warehouses", operation=operation, correlation_id=correlation_id
        )
        addresses = self._map(operation, _warehouse_addresses, answer)
        if warehouse_id not in addresses:
            raise BackendNotFound(
                self._backend.settings.name,
                operation,
                status_code=404,
                reason="not_found",
                message=f"no warehouse {warehouse_id}",
            )
        return addresses[warehouse_id]

    async def release_order(
        self,
        order_id: str,
        warehouse_id: str,
        lines: Sequence[tuple[str, int]],
        *,
        idempotency_key: str,
        correlation_id: str | None = None,
    ) -> tuple[PickTask, ...]:
        """Release an order to a warehouse: its pick, pack and ship tasks (the ones it has when
        the WMS knew the order already). `lines` are (SKU, whole quantity in the base unit)."""
        operation = "release order"
        answer = await self._backend.send_json(
            "POST",
            "/v2/outbound-orders",
            operation=operation,
            json={
                "order_ref": order_id,
                "warehouse": warehouse_id,
                "lines": [{"sku": sku, "qty": quantity} for sku, quantity in lines],
            },
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, lambda data: records_of(data, "tasks", task_from_wms), answer)

    async def confirm_dispatch(
        self,
        task_id: str,
        *,
        tracking_number: str,
        carrier: str,
        operator: str,
        idempotency_key: str,
        correlation_id: str | None = None,
    ) -> PickTask:
        """Confirm an order's SHIP task with the carrier's tracking number: the goods left, and
        the WMS pushes `shipment.dispatched`."""
        operation = "confirm dispatch"
        answer = await self._backend.send_json(
            "POST",
            f"/v2/tasks/{segment(task_id)}/confirm",
            operation=operation,
            json=confirmation_to_wms(1, operator)
            | {"tracking_number": tracking_number, "carrier": carrier},
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        return self._map(operation, _task_answer, answer)


def _receipts_page(answer: Any) -> Page[ReturnReceipt]:
    return page_of(answer, "data", "cursor", receipt_from_wms)


def _inventory_page(answer: Any) -> Page[InventoryPosition]:
    return page_of(answer, "data", "cursor", position_from_wms)


def _tasks(answer: Any) -> tuple[PickTask, ...]:
    return records_of(answer, "data", task_from_wms)


def _task_answer(answer: Any) -> PickTask:
    """The confirmation answers the task itself, possibly wrapped as {"task": ...}."""
    data = fields.as_object(answer, "answer")
    return task_from_wms(data.get("task", data), "task")


def _warehouse_addresses(answer: Any) -> dict[str, Address]:
    records = fields.as_list(
        fields.field(fields.as_object(answer, "answer"), "data", "answer"), "data"
    )
    addresses = {}
    for index, record in enumerate(records):
        where = f"data[{index}]"
        data = fields.as_object(record, where)
        addresses[fields.text(data, "warehouse", where)] = Address(
            name=fields.optional_text(data, "name", where) or "",
            street="",
            city=fields.optional_text(data, "city", where) or "",
            postal_code=fields.optional_text(data, "postal_code", where) or "",
            country=fields.text(data, "country", where),
        )
    return addresses
