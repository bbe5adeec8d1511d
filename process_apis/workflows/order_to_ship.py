"""Order to ship: a released order's stock reserved in the ERP, picked and packed in the WMS, a
carrier rated, tendered and booked in the TMS, the label and tracking number recorded, the
goods dispatched and their issue posted to the ERP with the freight charge.

Every write carries the step's idempotency key (a task's confirmation the key and the task),
so a step run again after a crash changes nothing twice. A refusal before the goods leave
(no carrier, a tender refused, a short pick) releases the reservation: the one step here whose
effect can be undone; picked goods stay picked for the warehouse to put away.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from domain.billing import FreightCharge
from domain.orders import OrderStatus
from domain.parties import Address
from domain.shipments import Package
from domain.units import Money, Weight, WeightUnit
from process_apis.workflows.engine import (
    RetryLater,
    Step,
    StepFailed,
    StepFunction,
    StepInput,
    WorkflowDefinition,
)
from process_apis.workflows.outcomes import backend_step
from system_apis.bundle import SystemClients
from system_apis.errors import BackendRejected
from system_apis.tms.models import BookingStatus
from system_apis.wms.models import TaskState, TaskType

KIND = "order-to-ship"
OPERATOR = "order-to-ship"
MIN_PARCEL_KG = Decimal("0.5")
PARCEL_CM = (40, 30, 30)
RELEASED = (OrderStatus.RELEASED, OrderStatus.PARTIALLY_SHIPPED)


def order_to_ship(clients: SystemClients) -> WorkflowDefinition:
    erp, wms, tms = clients.erp, clients.wms, clients.tms

    async def reserve_stock(given: StepInput) -> Mapping[str, Any]:
        order_id = str(given.inputs["order_id"])
        order = await backend_step(erp.order(order_id, correlation_id=given.correlation_id))
        if order.status not in RELEASED:
            raise StepFailed(f"order {order_id} is {order.status.value}, not released")
        reservation = await backend_step(
            erp.reserve_stock(
                order_id,
                idempotency_key=given.idempotency_key,
                correlation_id=given.correlation_id,
            )
        )
        return {
            "tenant_id": order.customer_id,
            "reservation_id": reservation.reservation_id,
            "warehouse_id": order.lines[0].warehouse_id,
            "lines": [[line.sku, _whole(line.quantity.value)] for line in order.lines],
            "ship_to": {
                "name": order.ship_to.name,
                "street": order.ship_to.street,
                "city": order.ship_to.city,
                "postal_code": order.ship_to.postal_code,
                "country": order.ship_to.country,
            },
        }

    async def release_reservation(given: StepInput) -> Mapping[str, Any]:
        reservation_id = str(given.results["reserve_stock"]["reservation_id"])
        released = await backend_step(
            erp.release_reservation(
                reservation_id,
                idempotency_key=given.idempotency_key,
                correlation_id=given.correlation_id,
            )
        )
        return {"reservation_id": reservation_id, "status": released.status.value}

    async def release_to_warehouse(given: StepInput) -> Mapping[str, Any]:
        reserved = given.results["reserve_stock"]
        tasks = await backend_step(
            wms.release_order(
                str(given.inputs["order_id"]),
                str(reserved["warehouse_id"]),
                [(str(sku), int(quantity)) for sku, quantity in reserved["lines"]],
                idempotency_key=given.idempotency_key,
                correlation_id=given.correlation_id,
            )
        )
        return {
            "tasks": [
                {"task_id": t.task_id, "type": t.task_type.value, "quantity": _whole(t.quantity)}
                for t in tasks
                if t.state is TaskState.OPEN
            ]
        }

    def confirming(task_type: TaskType) -> StepFunction:
        async def confirm(given: StepInput) -> Mapping[str, Any]:
            confirmed = []
            for task in given.results["release_to_warehouse"]["tasks"]:
                if task["type"] != task_type.value:
                    continue
                await _confirm_once(given, str(task["task_id"]), int(task["quantity"]))
                confirmed.append(task["task_id"])
            return {"confirmed": confirmed}

        return confirm

    async def _confirm_once(given: StepInput, task_id: str, quantity: int) -> None:
        """Confirm a task; one someone else confirmed already is done too."""
        try:
            await backend_step(
                wms.confirm_task(
                    task_id,
                    quantity=quantity,
                    operator=OPERATOR,
                    idempotency_key=f"{given.idempotency_key}:{task_id}",
                    correlation_id=given.correlation_id,
                ),
                keep_refusals=True,
            )
        except BackendRejected as error:
            if error.reason != "conflict":
                raise StepFailed(error.public_message) from None
            task = await backend_step(wms.task(task_id, correlation_id=given.correlation_id))
            if task.state is not TaskState.DONE:
                raise StepFailed(error.public_message) from None

    async def rate(given: StepInput) -> Mapping[str, Any]:
        reserved = given.results["reserve_stock"]
        origin = await backend_step(
            wms.ship_from(str(reserved["warehouse_id"]), correlation_id=given.correlation_id)
        )
        weight = Decimal(0)
        for sku, quantity in reserved["lines"]:
            item = await backend_step(erp.item(str(sku), correlation_id=given.correlation_id))
            weight += item.gross_weight.in_kilograms() * int(quantity)
        parcel = Package(
            package_id=f"{given.inputs['order_id']}-1",
            weight=Weight(max(weight, MIN_PARCEL_KG).quantize(Decimal("0.1")), WeightUnit.KILOGRAM),
            length_cm=PARCEL_CM[0],
            width_cm=PARCEL_CM[1],
            height_cm=PARCEL_CM[2],
        )
        destination = Address(**reserved["ship_to"])
        quotes = await backend_step(
            tms.rates(origin, destination, [parcel], correlation_id=given.correlation_id)
        )
        if not quotes:
            raise StepFailed(
                f"no carrier serves {origin.country} to {destination.country} for this order"
            )
        best = min(quotes, key=lambda quote: (quote.amount.amount, quote.transit_days))
        return {
            "quote_id": best.quote_id,
            "carrier": best.carrier,
            "service": best.service,
            "amount": str(best.amount.amount),
            "currency": best.amount.currency,
        }

    async def book(given: StepInput) -> Mapping[str, Any]:
        quote = given.results["rate"]
        booking = await backend_step(
            tms.tender(
                str(quote["quote_id"]),
                str(given.inputs["order_id"]),
                idempotency_key=given.idempotency_key,
                correlation_id=given.correlation_id,
            )
        )
        return {
            "booking_id": booking.shipment.shipment_id,
            "tracking_number": booking.shipment.tracking_number,
            "carrier": booking.shipment.carrier,
            "service": booking.shipment.service,
            "amount": str(booking.charge.amount),
            "currency": booking.charge.currency,
            "status": booking.status.value,
        }

    async def confirm_booking(given: StepInput) -> Mapping[str, Any]:
        """An LTL tender waits for the carrier to accept it."""
        booking_id = str(given.results["book"]["booking_id"])
        booking = await backend_step(tms.booking(booking_id, correlation_id=given.correlation_id))
        if booking.status is BookingStatus.CANCELLED:
            raise StepFailed(f"the carrier declined booking {booking_id}")
        if booking.status is BookingStatus.TENDERED:
            raise RetryLater(f"booking {booking_id} awaits the carrier's acceptance")
        return {"booking_id": booking_id, "status": booking.status.value}

    async def label(given: StepInput) -> Mapping[str, Any]:
        booked = given.results["book"]
        printed = await backend_step(
            tms.label(str(booked["booking_id"]), correlation_id=given.correlation_id)
        )
        return {
            "tracking_number": booked["tracking_number"],
            "format": printed.label_format,
            "label": printed.content,
        }

    async def dispatch(given: StepInput) -> Mapping[str, Any]:
        booked = given.results["book"]
        ships = [t for t in given.results["release_to_warehouse"]["tasks"] if t["type"] == "SHIP"]
        for task in ships:
            await backend_step(
                wms.confirm_dispatch(
                    str(task["task_id"]),
                    tracking_number=str(booked["tracking_number"]),
                    carrier=str(booked["carrier"]),
                    operator=OPERATOR,
                    idempotency_key=f"{given.idempotency_key}:{task['task_id']}",
                    correlation_id=given.correlation_id,
                )
            )
        return {
            "tracking_number": booked["tracking_number"],
            "tasks": [t["task_id"] for t in ships],
        }

    async def goods_issue(given: StepInput) -> Mapping[str, Any]:
        booked = given.results["book"]
        freight = FreightCharge(
            carrier=str(booked["carrier"]),
            tracking_number=str(booked["tracking_number"]),
            amount=Money(Decimal(str(booked["amount"])), str(booked["currency"])),
        )
        order = await backend_step(
            erp.post_goods_issue(
                str(given.inputs["order_id"]),
                freight,
                idempotency_key=given.idempotency_key,
                correlation_id=given.correlation_id,
            )
        )
        return {"order_status": order.status.value, "tracking_number": freight.tracking_number}

    return WorkflowDefinition(
        KIND,
        (
            Step("reserve_stock", reserve_stock, release_reservation),
            Step("release_to_warehouse", release_to_warehouse),
            Step("pick", confirming(TaskType.PICK)),
            Step("pack", confirming(TaskType.PACK)),
            Step("rate", rate),
            Step("book", book),
            Step("confirm_booking", confirm_booking),
            Step("label", label),
            Step("dispatch", dispatch),
            Step("goods_issue", goods_issue),
        ),
    )


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))
