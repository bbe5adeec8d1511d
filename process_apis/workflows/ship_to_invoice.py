"""Ship to invoice: a carrier's proof of delivery, the freight charge the ERP will bill checked
against the rate the TMS booked, then the invoice posted to the ERP.

It starts only from a DELIVERED milestone in the event log, so no invoice is posted before
proof of delivery. A freight charge that differs from the booked rate (or is missing) holds
the invoice for a person: the workflow is HELD with the reason, and an admin retry checks
again. The ERP in maintenance makes the invoice wait, and it is posted once the ERP is back.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.units import Money
from process_apis.workflows.engine import (
    HoldForReview,
    Step,
    StepFailed,
    StepInput,
    WorkflowDefinition,
)
from process_apis.workflows.outcomes import backend_step
from system_apis.bundle import SystemClients
from system_apis.errors import BackendNotFound, BackendRejected

KIND = "ship-to-invoice"


def ship_to_invoice(clients: SystemClients) -> WorkflowDefinition:
    erp, tms = clients.erp, clients.tms

    async def proof_of_delivery(given: StepInput) -> Mapping[str, Any]:
        tracking_number = str(given.inputs["tracking_number"])
        try:
            booking = await backend_step(
                tms.booking_by_tracking_number(
                    tracking_number, correlation_id=given.correlation_id
                ),
                keep_refusals=True,
            )
        except BackendNotFound:
            raise StepFailed(f"the TMS has no booking for {tracking_number}") from None
        order = await backend_step(
            erp.order(booking.shipment.order_id, correlation_id=given.correlation_id)
        )
        return {
            "tenant_id": order.customer_id,
            "order_id": order.order_id,
            "booking_id": booking.shipment.shipment_id,
            "carrier": booking.shipment.carrier,
            "tracking_number": tracking_number,
            "delivered_at": given.inputs.get("delivered_at"),
            "booked_amount": str(booking.charge.amount),
            "currency": booking.charge.currency,
        }

    async def check_freight(given: StepInput) -> Mapping[str, Any]:
        delivered = given.results["proof_of_delivery"]
        order_id = str(delivered["order_id"])
        booked = Money(Decimal(str(delivered["booked_amount"])), str(delivered["currency"]))
        try:
            freight = await backend_step(
                erp.freight_charge(order_id, correlation_id=given.correlation_id),
                keep_refusals=True,
            )
        except BackendNotFound:
            raise HoldForReview(f"the ERP has no freight charge for order {order_id}") from None
        except BackendRejected as error:
            raise StepFailed(error.public_message) from None
        if freight.amount != booked:
            raise HoldForReview(
                f"freight charge {freight.amount.amount} {freight.amount.currency} for order "
                f"{order_id} differs from the booked rate {booked.amount} {booked.currency}"
            )
        if freight.tracking_number != delivered["tracking_number"]:
            raise HoldForReview(
                f"the ERP charges freight of order {order_id} for shipment "
                f"{freight.tracking_number}, not the delivered {delivered['tracking_number']}"
            )
        return {"freight_amount": str(freight.amount.amount), "currency": booked.currency}

    async def post_invoice(given: StepInput) -> Mapping[str, Any]:
        order_id = str(given.results["proof_of_delivery"]["order_id"])
        try:
            invoice = await backend_step(
                erp.create_invoice(
                    order_id,
                    idempotency_key=given.idempotency_key,
                    correlation_id=given.correlation_id,
                ),
                keep_refusals=True,
            )
        except BackendRejected as error:
            if "already invoiced" not in error.message:
                raise HoldForReview(error.public_message) from None
            invoices = await backend_step(
                erp.invoices_for_order(order_id, correlation_id=given.correlation_id)
            )
            if not invoices:
                raise HoldForReview(error.public_message) from None
            invoice = invoices[-1]
        return {
            "invoice_id": invoice.invoice_id,
            "gross": str(invoice.gross.amount),
            "currency": invoice.gross.currency,
        }

    return WorkflowDefinition(
        KIND,
        (
            Step("proof_of_delivery", proof_of_delivery),
            Step("check_freight", check_freight),
            Step("post_invoice", post_invoice),
        ),
    )
