"""Returns: reading a tenant's return authorizations and receipts, and the two commands.

A portal asks for a return of its own order (`request_return`): the order is read first (the
caller's, its line numbers exist), then the ERP authorizes it, checking what shipped, what
earlier returns took and the return window; an authorization is announced on the event log as
`return.authorized`, for the return-to-restock workflow to start from. A warehouse receives
the goods (`receive_return`): only against an authorization of the caller's tenant bound for
one of the caller's warehouses, and no more than it authorizes; the WMS then pushes
`return.received` and `return.inspected` itself (through the webhook ingress).

Each command runs once per idempotency key through `once` (see `process_apis.once`); the
backends are sent a key derived from the caller's, so a retry after a timeout that the backend
had in fact applied receives the backend's first answer, never a second RMA or receipt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.events import EventEnvelope, SourceSystem, utc_now
from domain.returns import (
    ReceiptLine,
    RequestedReturnLine,
    ReturnAuthorization,
    ReturnReceipt,
    ReturnRequest,
    ReturnStatus,
)
from domain.units import Quantity
from process_apis import return_outcomes as outcomes
from process_apis.once import Caller, Once
from process_apis.ownership import OrderOwnership
from process_apis.visibility import NotFound, require_visible
from stores.event_log import EventLog, EventLogUnavailable
from system_apis.context import resolve_correlation_id
from system_apis.erp.client import ErpClient
from system_apis.erp.returns import (
    QuantityExceedsShipped,
    ReturnWindowClosed,
    authorization_payload,
)
from system_apis.errors import BackendNotFound
from system_apis.paging import Page
from system_apis.wms.client import WmsClient
from system_apis.wms.returns import AlreadyReceived

AUTHORIZED_EVENT = "return.authorized"
RETURN_AGGREGATE = "Return"


class NotAnnounced(Exception):
    """The ERP authorized the return but the event log could not record it: the same request
    again (same key) gets the same authorization from the ERP and records it then."""

    def __init__(self, rma_id: str) -> None:
        self.public_message = (
            f"return {rma_id} is authorized but could not be recorded yet; "
            "send the same request again with the same idempotency key"
        )
        super().__init__(self.public_message)


@dataclass(frozen=True, slots=True)
class ReturnQueries:
    erp: ErpClient
    wms: WmsClient
    owners: OrderOwnership

    async def authorization(self, tenant_id: str, rma_id: str) -> ReturnAuthorization:
        try:
            authorization = await self.erp.return_authorization(rma_id)
        except BackendNotFound:
            raise NotFound("return", rma_id) from None
        require_visible(authorization.customer_id, tenant_id, "return", rma_id)
        return authorization

    async def authorizations(
        self, tenant_id: str, *, first: int, after: str | None
    ) -> Page[ReturnAuthorization]:
        """The tenant's returns newest first, with the ERP's stable keyset paging."""
        return await self.erp.return_authorizations_page(
            tenant_id, newest_first=True, page_token=after, limit=first
        )

    async def returns_of_orders(
        self, tenant_id: str, order_ids: Sequence[str]
    ) -> Mapping[str, tuple[ReturnAuthorization, ...] | None]:
        """The returns of each order in one ownership lookup and one ERP listing; None for an
        order the tenant does not own, or that does not exist."""
        owners = await self.owners.owners_of(order_ids)
        visible = [order_id for order_id in order_ids if owners.get(order_id) == tenant_id]
        found: dict[str, list[ReturnAuthorization]] = {order_id: [] for order_id in visible}
        for authorization in await self.erp.returns_for_orders(visible):
            if authorization.customer_id == tenant_id and authorization.order_id in found:
                found[authorization.order_id].append(authorization)
        return {
            order_id: tuple(found[order_id]) if order_id in found else None
            for order_id in order_ids
        }

    async def receipts(
        self, tenant_id: str, rma_ids: Sequence[str]
    ) -> Mapping[str, ReturnReceipt | None]:
        """The WMS's receipt of each return (None: not received), in one listing. The ids are
        of returns already shown to be the tenant's; a receipt owned by another is not shown."""
        receipts: dict[str, ReturnReceipt | None] = dict.fromkeys(rma_ids)
        for receipt in await self.wms.return_receipts(list(dict.fromkeys(rma_ids))):
            if receipt.rma_id in receipts and receipt.customer_id in (None, tenant_id):
                receipts[receipt.rma_id] = receipt
        return receipts


@dataclass(frozen=True, slots=True)
class ReturnCommands:
    erp: ErpClient
    wms: WmsClient
    event_log: EventLog
    once: Once

    async def request_return(
        self,
        caller: Caller,
        idempotency_key: str,
        order_id: str,
        lines: Sequence[RequestedReturnLine],
    ) -> outcomes.RequestOutcome:
        arguments = {
            "order_id": order_id,
            "lines": [[line.order_line, str(line.quantity), line.reason.value] for line in lines],
        }

        async def run(backend_key: str) -> outcomes.RequestOutcome:
            try:
                order = await self.erp.order(order_id)
            except BackendNotFound:
                return outcomes.OrderNotFound(order_id)
            if order.customer_id != caller.tenant_id:
                return outcomes.OrderNotFound(order_id)
            numbers = {line.line_number for line in order.lines}
            for line in lines:
                if line.order_line not in numbers:
                    return outcomes.OrderLineNotFound(order_id, line.order_line)
            request = ReturnRequest(order_id, caller.tenant_id, tuple(lines))
            try:
                authorization = await self.erp.create_return(request, idempotency_key=backend_key)
            except BackendNotFound:
                return outcomes.OrderNotFound(order_id)
            except ReturnWindowClosed as closed:
                return outcomes.ReturnWindowClosed(order_id, closed.closed_on)
            except QuantityExceedsShipped as exceeding:
                return outcomes.QuantityExceedsShipped(order_id, exceeding.shortfalls)
            try:
                await self.event_log.append(authorized_event(authorization))
            except EventLogUnavailable:
                raise NotAnnounced(authorization.rma_id) from None
            return outcomes.ReturnRequested(authorization)

        return await self.once.run(caller, "request_return", idempotency_key, arguments, run)

    async def receive_return(
        self,
        caller: Caller,
        idempotency_key: str,
        rma_id: str,
        lines: Sequence[ReceiptLine],
    ) -> outcomes.ReceiveOutcome:
        arguments = {
            "rma_id": rma_id,
            "lines": [
                [line.sku, str(line.quantity.value), str(line.disposition)] for line in lines
            ],
        }

        async def run(backend_key: str) -> outcomes.ReceiveOutcome:
            try:
                authorization = await self.erp.return_authorization(rma_id)
            except BackendNotFound:
                return outcomes.ReturnNotFound(rma_id)
            if (
                authorization.customer_id != caller.tenant_id
                or authorization.status is ReturnStatus.REJECTED
                or authorization.warehouse_id not in caller.warehouses
            ):
                return outcomes.ReturnNotFound(rma_id)
            counted = _within_authorization(authorization, lines)
            if isinstance(counted, outcomes.ExceedsAuthorization):
                return counted
            try:
                receipt = await self.wms.receive_return(
                    rma_id,
                    customer_id=caller.tenant_id,
                    warehouse_id=authorization.warehouse_id,
                    lines=counted,
                    idempotency_key=backend_key,
                )
            except AlreadyReceived as received:
                return outcomes.AlreadyReceived(rma_id, received.receipt_id)
            return outcomes.ReturnReceived(authorization, receipt)

        return await self.once.run(caller, "receive_return", idempotency_key, arguments, run)


def _within_authorization(
    authorization: ReturnAuthorization, lines: Sequence[ReceiptLine]
) -> list[ReceiptLine] | outcomes.ExceedsAuthorization:
    """The lines in the authorization's units, or the first SKU received beyond it."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.sku] += line.quantity.value
    for sku, received in totals.items():
        authorized = authorization.authorized_quantity(sku)
        if authorized is None or received > authorized.value:
            allowed = authorized.value if authorized else Decimal(0)
            return outcomes.ExceedsAuthorization(authorization.rma_id, sku, allowed, received)
    counted = []
    for line in lines:
        unit = authorization.authorized_quantity(line.sku)
        assert unit is not None
        counted.append(
            ReceiptLine(line.sku, Quantity(line.quantity.value, unit.unit), line.disposition)
        )
    return counted


def authorized_event(authorization: ReturnAuthorization) -> EventEnvelope:
    """`return.authorized`, with an id that is the same however often it is announced."""
    return EventEnvelope(
        event_id=f"ERP:{AUTHORIZED_EVENT}:{authorization.rma_id}",
        event_type=AUTHORIZED_EVENT,
        source=SourceSystem.ERP,
        source_name="ERP",
        aggregate_type=RETURN_AGGREGATE,
        aggregate_id=authorization.rma_id,
        occurred_at=authorization.authorized_at,
        received_at=utc_now(),
        correlation_id=resolve_correlation_id(),
        tenant_id=authorization.customer_id,
        payload=authorization_payload(authorization),
    )
