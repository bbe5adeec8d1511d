"""Return to restock: a return authorized in the ERP, the goods received and inspected in the
WMS, each unit restocked or written off as inspection decided, then a credit note in the ERP.

The receipt and the inspection are the warehouse's to make: until they are, their steps wait
(tried again after a pause, and at once when the WMS's `return.received` or `return.inspected`
event reaches the log). The WMS puts sellable units back into stock and quarantines damaged
ones as it inspects; the workflow records which was which and credits the customer once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.returns import Disposition, ReturnStatus
from process_apis.workflows.engine import (
    RetryLater,
    Step,
    StepFailed,
    StepInput,
    WorkflowDefinition,
)
from process_apis.workflows.outcomes import backend_step
from system_apis.bundle import SystemClients
from system_apis.errors import BackendNotFound, BackendRejected

KIND = "return-to-restock"


def return_to_restock(clients: SystemClients) -> WorkflowDefinition:
    erp, wms = clients.erp, clients.wms

    async def authorization(given: StepInput) -> Mapping[str, Any]:
        rma_id = str(given.inputs["rma_id"])
        try:
            authorized = await backend_step(
                erp.return_authorization(rma_id, correlation_id=given.correlation_id),
                keep_refusals=True,
            )
        except BackendNotFound:
            raise StepFailed(f"the ERP has no return {rma_id}") from None
        except BackendRejected as error:
            raise StepFailed(error.public_message) from None
        if authorized.status is ReturnStatus.REJECTED:
            raise StepFailed(f"return {rma_id} was rejected")
        return {
            "tenant_id": authorized.customer_id,
            "order_id": authorized.order_id,
            "warehouse_id": authorized.warehouse_id,
            "lines": [
                {"sku": line.sku, "quantity": str(line.quantity.value)} for line in authorized.lines
            ],
        }

    async def _receipt(given: StepInput) -> Any:
        rma_id = str(given.inputs["rma_id"])
        receipts = await backend_step(
            wms.return_receipts([rma_id], correlation_id=given.correlation_id)
        )
        return receipts[0] if receipts else None

    async def receipt(given: StepInput) -> Mapping[str, Any]:
        received = await _receipt(given)
        if received is None:
            raise RetryLater("awaiting the goods at the warehouse")
        return {
            "receipt_id": received.receipt_id,
            "warehouse_id": received.warehouse_id,
            "received_at": received.received_at.isoformat(),
        }

    async def inspection(given: StepInput) -> Mapping[str, Any]:
        received = await _receipt(given)
        if received is None or not received.inspected:
            raise RetryLater("awaiting the warehouse's inspection")
        return {
            "inspected_at": received.inspected_at.isoformat() if received.inspected_at else None,
            "lines": [
                {
                    "sku": line.sku,
                    "quantity": str(line.quantity.value),
                    "disposition": line.disposition.value if line.disposition else None,
                    "bin": line.bin,
                }
                for line in received.lines
            ],
        }

    async def restock_or_write_off(given: StepInput) -> Mapping[str, Any]:
        lines = given.results["inspection"]["lines"]
        undecided = [line["sku"] for line in lines if line["disposition"] is None]
        if undecided:
            raise RetryLater(f"no disposition yet for {', '.join(undecided)}")
        return {
            "restocked": [line for line in lines if line["disposition"] == Disposition.RESTOCK],
            "written_off": [line for line in lines if line["disposition"] == Disposition.WRITE_OFF],
        }

    async def credit_note(given: StepInput) -> Mapping[str, Any]:
        rma_id = str(given.inputs["rma_id"])
        try:
            note = await backend_step(
                erp.create_credit_note(
                    rma_id,
                    idempotency_key=given.idempotency_key,
                    correlation_id=given.correlation_id,
                ),
                keep_refusals=True,
            )
        except BackendRejected as error:
            if error.reason != "already_credited":
                raise StepFailed(error.public_message) from None
            notes = await backend_step(
                erp.credit_notes_for_return(rma_id, correlation_id=given.correlation_id)
            )
            if not notes:
                raise StepFailed(error.public_message) from None
            note = notes[0]
        return {
            "credit_note_id": note.credit_note_id,
            "gross": str(note.gross.amount),
            "currency": note.gross.currency,
        }

    return WorkflowDefinition(
        KIND,
        (
            Step("authorization", authorization),
            Step("receipt", receipt),
            Step("inspection", inspection),
            Step("restock_or_write_off", restock_or_write_off),
            Step("credit_note", credit_note),
        ),
    )
