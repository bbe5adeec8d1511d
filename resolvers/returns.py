"""The returns subgraph: a customer's return authorizations, and the two return commands.

A return is the ERP's authorization with the WMS's receipt beside it; its `status` says how
far it got from both (`domain.returns.return_status`). Portals ask for returns of their own
orders (`requestReturn`, the `write` scope); warehouses receive the goods (`receiveReturn`,
the `warehouse` scope, only in the caller's warehouses). Both take an idempotency key (the
`idempotencyKey` argument or the `Idempotency-Key` header): a retry gets the first answer
and changes nothing twice. Expected business failures are members of each result union.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader

from domain.returns import Disposition as DomainDisposition
from domain.returns import ReceiptLine, RequestedReturnLine, return_status
from domain.returns import ReturnAuthorization as DomainAuthorization
from domain.returns import ReturnReason as DomainReason
from domain.returns import ReturnReceipt as DomainReceipt
from domain.returns import ReturnStatus as DomainStatus
from domain.units import Quantity as DomainQuantity
from domain.units import UnitOfMeasure
from policies.cursors import InvalidCursor
from process_apis import return_outcomes as outcomes
from process_apis.once import Caller
from process_apis.returns import NotAnnounced
from resolvers import access
from resolvers.context import SubgraphContext, context_of
from resolvers.cost import BACKEND_READ, page_of
from resolvers.errors import PublicError, invalid_cursor, public_backend_error
from resolvers.guard import or_none, or_raise
from resolvers.idempotency import key_of_request
from resolvers.schema import SubgraphSchema
from resolvers.values import BAD_USER_INPUT, Quantity, identifier, page_size
from system_apis.erp.returns import ShippedShortfall as DomainShortfall
from system_apis.errors import BackendError

WRITE_SCOPE = "write"
WAREHOUSE_SCOPE = "warehouse"
MAX_PAGE = 100
MAX_LINES = 50
MAX_UNITS = 100_000
"""The most units of one line; anything larger is a typing slip, refused as input."""
RETURNS_LISTING = "returns"
LOADERS_KEY = "returns-loaders"

ReturnStatus = strawberry.enum(
    DomainStatus, description="How far a return got, from the ERP's and the WMS's word."
)
ReturnReason = strawberry.enum(DomainReason, description="Why the customer sends units back.")
Disposition = strawberry.enum(
    DomainDisposition, description="What inspection decided: back to stock, or written off."
)


@strawberry.type
class ReturnLine:
    order_line: int | None = strawberry.field(description="The order line the units were sold on.")
    sku: str
    quantity: Quantity
    reason: ReturnReason


@strawberry.type
class ReturnReceiptLine:
    sku: str
    quantity: Quantity
    disposition: Disposition | None = strawberry.field(description="Null until inspected.")
    bin: str | None = strawberry.field(description="Where the units were put after inspection.")


@strawberry.type(description="Goods received in a warehouse against a return, as the WMS has it.")
class ReturnReceipt:
    id: strawberry.ID
    warehouse_id: str
    received_at: datetime
    inspected_at: datetime | None
    lines: list[ReturnReceiptLine]

    @classmethod
    def of(cls, receipt: DomainReceipt) -> ReturnReceipt:
        return cls(
            id=strawberry.ID(receipt.receipt_id),
            warehouse_id=receipt.warehouse_id,
            received_at=receipt.received_at,
            inspected_at=receipt.inspected_at,
            lines=[
                ReturnReceiptLine(
                    sku=line.sku,
                    quantity=Quantity.of(line.quantity),
                    disposition=line.disposition,
                    bin=line.bin,
                )
                for line in receipt.lines
            ],
        )


@strawberry.federation.type(
    keys=["id"], policy=access.TENANT_MEMBER, description="A return authorization (RMA)."
)
class ReturnAuthorization:
    id: strawberry.ID
    authorized_at: datetime
    warehouse_id: str | None = strawberry.field(description="Where the goods go back to.")
    tracking_number: str | None
    lines: list[ReturnLine]
    order: OrderReturns
    authorized_status: strawberry.Private[DomainStatus]

    @strawberry.field(
        description="Authorized, in transit, received, restocked or written off (null, with an "
        "error, when the WMS cannot say whether the goods arrived)."
    )
    async def status(self, info: strawberry.Info) -> ReturnStatus | None:  # type: ignore[valid-type]
        receipt = await or_raise(_loaders(info).receipt.load(str(self.id)))
        return return_status(self.authorized_status, receipt)

    @strawberry.field(
        description="The warehouse's receipt (null until received; null with an error when "
        "the WMS cannot answer)."
    )
    async def receipt(self, info: strawberry.Info) -> ReturnReceipt | None:
        receipt = await or_raise(_loaders(info).receipt.load(str(self.id)))
        return ReturnReceipt.of(receipt) if receipt else None

    @classmethod
    def of(cls, authorization: DomainAuthorization) -> ReturnAuthorization:
        return cls(
            id=strawberry.ID(authorization.rma_id),
            authorized_at=authorization.authorized_at,
            warehouse_id=authorization.warehouse_id,
            tracking_number=authorization.tracking_number,
            lines=[
                ReturnLine(
                    order_line=line.order_line,
                    sku=line.sku,
                    quantity=Quantity.of(line.quantity),
                    reason=DomainReason(line.reason),
                )
                for line in authorization.lines
            ],
            order=OrderReturns(id=strawberry.ID(authorization.order_id)),
            authorized_status=authorization.status,
        )

    @classmethod
    async def resolve_reference(
        cls, info: strawberry.Info, id: strawberry.ID
    ) -> ReturnAuthorization | None:
        return await _authorization(info, str(id))


@strawberry.federation.type(keys=["id"], name="Order")
class OrderReturns:
    id: strawberry.ID

    @strawberry.federation.field(
        description="The order's returns, oldest first (null when the ERP cannot answer, with "
        "an error saying so, while the rest of the order stands).",
        directives=[BACKEND_READ],
    )
    async def returns(self, info: strawberry.Info) -> list[ReturnAuthorization] | None:
        order_id = identifier(self.id, "id")
        found = await or_raise(_loaders(info).returns_of_order.load(order_id))
        return [ReturnAuthorization.of(a) for a in found or ()]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> OrderReturns:
        return cls(id=id)


@strawberry.type
class ReturnPage:
    returns: list[ReturnAuthorization]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last one."
    )


@dataclass(frozen=True, slots=True)
class _Loaders:
    """Per request, per tenant: a page of returns costs one WMS listing for their receipts, a
    page of orders one ERP listing for their returns."""

    receipt: DataLoader[str, DomainReceipt | None]
    returns_of_order: DataLoader[str, tuple[DomainAuthorization, ...] | None]


def _loaders(info: strawberry.Info) -> _Loaders:
    context = info.context
    found = context.get(LOADERS_KEY) if isinstance(context, Mapping) else None
    if isinstance(found, _Loaders):
        return found
    subgraph = context_of(info)
    tenant_id = subgraph.principal.tenant_id
    returns = subgraph.services.returns

    async def receipts(rma_ids: list[str]) -> list[DomainReceipt | None]:
        found = await returns.receipts(tenant_id, rma_ids)
        return [found.get(rma_id) for rma_id in rma_ids]

    async def returns_of_orders(
        order_ids: list[str],
    ) -> list[tuple[DomainAuthorization, ...] | None]:
        found = await returns.returns_of_orders(tenant_id, order_ids)
        return [found[order_id] for order_id in order_ids]

    loaders = _Loaders(DataLoader(receipts), DataLoader(returns_of_orders))
    if isinstance(context, MutableMapping):
        context[LOADERS_KEY] = loaders
    return loaders


async def _authorization(info: strawberry.Info, rma_id: str) -> ReturnAuthorization | None:
    rma_id = identifier(rma_id, "id")
    context = context_of(info)
    found = await or_none(
        context.services.returns.authorization(context.principal.tenant_id, rma_id)
    )
    return ReturnAuthorization.of(found) if found else None


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="A return of the calling customer; null when there is none.",
    )
    async def return_authorization(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> ReturnAuthorization | None:
        return await _authorization(info, str(id))

    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="The calling customer's returns, newest first, page by page.",
        directives=[page_of("returns")],
    )
    async def returns(
        self, info: strawberry.Info, first: int = 20, after: str | None = None
    ) -> ReturnPage | None:
        context = context_of(info)
        tenant_id = context.principal.tenant_id
        size = page_size(first, MAX_PAGE)
        try:
            backend_cursor = context.cursors.open(RETURNS_LISTING, tenant_id, after)
        except InvalidCursor:
            raise invalid_cursor("after") from None
        page = await or_raise(
            context.services.returns.authorizations(tenant_id, first=size, after=backend_cursor)
        )
        return ReturnPage(
            returns=[ReturnAuthorization.of(a) for a in page.items],
            next_cursor=context.cursors.issue(RETURNS_LISTING, tenant_id, page.next_token),
        )


# The results of the commands: the success and each expected failure.


@strawberry.type(description="The ERP authorized the return.")
class ReturnRequested:
    return_authorization: ReturnAuthorization


@strawberry.type(description="No order of yours with this id.")
class OrderNotFound:
    order_id: strawberry.ID
    message: str


@strawberry.type(description="The order has no line with this number.")
class OrderLineNotFound:
    order_id: strawberry.ID
    line_number: int
    message: str


@strawberry.type
class ShippedShortfall:
    line_number: int
    sku: str
    shipped: Decimal
    already_returned: Decimal
    requested: Decimal

    @classmethod
    def of(cls, shortfall: DomainShortfall) -> ShippedShortfall:
        return cls(
            line_number=shortfall.order_line,
            sku=shortfall.sku,
            shipped=shortfall.shipped,
            already_returned=shortfall.already_returned,
            requested=shortfall.requested,
        )


@strawberry.type(description="More units asked back than shipped, less earlier returns.")
class QuantityExceedsShipped:
    order_id: strawberry.ID
    lines: list[ShippedShortfall]
    message: str


@strawberry.type(description="Returns of this order are no longer accepted.")
class ReturnWindowClosed:
    order_id: strawberry.ID
    closed_on: date
    message: str


@strawberry.type(description="The goods are received and inspected.")
class ReturnReceived:
    return_authorization: ReturnAuthorization
    receipt: ReturnReceipt


@strawberry.type(
    description="No return of yours with this id that one of your warehouses may receive."
)
class ReturnNotFound:
    rma_id: strawberry.ID
    message: str


@strawberry.type(description="The goods of this return were received before.")
class AlreadyReceived:
    rma_id: strawberry.ID
    receipt_id: strawberry.ID | None
    message: str


@strawberry.type(description="More units of a SKU than the return authorizes (0: not on it).")
class ExceedsAuthorization:
    rma_id: strawberry.ID
    sku: str
    authorized: Decimal
    received: Decimal
    message: str


RequestReturnResult = Annotated[
    ReturnRequested
    | OrderNotFound
    | OrderLineNotFound
    | QuantityExceedsShipped
    | ReturnWindowClosed,
    strawberry.union("RequestReturnResult"),
]
ReceiveReturnResult = Annotated[
    ReturnReceived | ReturnNotFound | AlreadyReceived | ExceedsAuthorization,
    strawberry.union("ReceiveReturnResult"),
]


@strawberry.input
class ReturnLineInput:
    line_number: int = strawberry.field(description="The order line (`OrderLine.lineNumber`).")
    quantity: int = strawberry.field(description=f"Whole units, 1 to {MAX_UNITS}.")
    reason: ReturnReason


@strawberry.input
class ReceivedLineInput:
    sku: str
    quantity: int = strawberry.field(description=f"Whole units, 1 to {MAX_UNITS}.")
    disposition: Disposition


def _request_result(outcome: outcomes.RequestOutcome) -> Any:
    if isinstance(outcome, outcomes.ReturnRequested):
        return ReturnRequested(return_authorization=ReturnAuthorization.of(outcome.authorization))
    if isinstance(outcome, outcomes.OrderNotFound):
        return OrderNotFound(
            order_id=strawberry.ID(outcome.order_id), message=f"no order {outcome.order_id}"
        )
    if isinstance(outcome, outcomes.OrderLineNotFound):
        return OrderLineNotFound(
            order_id=strawberry.ID(outcome.order_id),
            line_number=outcome.line_number,
            message=f"order {outcome.order_id} has no line {outcome.line_number}",
        )
    if isinstance(outcome, outcomes.QuantityExceedsShipped):
        lines = ", ".join(str(s.order_line) for s in outcome.shortfalls)
        return QuantityExceedsShipped(
            order_id=strawberry.ID(outcome.order_id),
            lines=[ShippedShortfall.of(s) for s in outcome.shortfalls],
            message=f"more units asked back than shipped on line {lines}",
        )
    assert isinstance(outcome, outcomes.ReturnWindowClosed)
    return ReturnWindowClosed(
        order_id=strawberry.ID(outcome.order_id),
        closed_on=outcome.closed_on,
        message=f"returns of {outcome.order_id} closed on {outcome.closed_on.isoformat()}",
    )


def _receive_result(outcome: outcomes.ReceiveOutcome) -> Any:
    if isinstance(outcome, outcomes.ReturnReceived):
        return ReturnReceived(
            return_authorization=ReturnAuthorization.of(outcome.authorization),
            receipt=ReturnReceipt.of(outcome.receipt),
        )
    if isinstance(outcome, outcomes.ReturnNotFound):
        return ReturnNotFound(
            rma_id=strawberry.ID(outcome.rma_id),
            message=f"no return {outcome.rma_id} for your warehouses",
        )
    if isinstance(outcome, outcomes.AlreadyReceived):
        receipt = strawberry.ID(outcome.receipt_id) if outcome.receipt_id else None
        return AlreadyReceived(
            rma_id=strawberry.ID(outcome.rma_id),
            receipt_id=receipt,
            message=f"{outcome.rma_id} was received before",
        )
    assert isinstance(outcome, outcomes.ExceedsAuthorization)
    return ExceedsAuthorization(
        rma_id=strawberry.ID(outcome.rma_id),
        sku=outcome.sku,
        authorized=outcome.authorized,
        received=outcome.received,
        message=f"{outcome.rma_id} authorizes {outcome.authorized} of {outcome.sku}, "
        f"not {outcome.received}",
    )


def _caller(context: SubgraphContext, scope: str) -> Caller:
    principal = context.principal
    if not principal.has_scope(scope):
        raise PublicError(f"the {scope} scope is required for this mutation", "FORBIDDEN")
    warehouses = frozenset(getattr(principal, "warehouses", ()))
    return Caller(principal.tenant_id, principal.client_id, warehouses)


def _lines(count: int) -> None:
    if not 1 <= count <= MAX_LINES:
        raise PublicError(f"lines must hold 1 to {MAX_LINES} lines", BAD_USER_INPUT)


def _units(value: int, argument: str) -> Decimal:
    if not 1 <= value <= MAX_UNITS:
        raise PublicError(f"{argument} must be between 1 and {MAX_UNITS}", BAD_USER_INPUT)
    return Decimal(value)


async def _command(call: Any) -> Any:
    try:
        return await call
    except NotAnnounced as error:
        raise PublicError(error.public_message, "UNAVAILABLE") from None
    except BackendError as error:
        public = public_backend_error(error)
        raise PublicError(
            f"{public}; retry with the same idempotency key", public.extensions["code"]
        ) from None


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=access.WRITE,
        description="Ask to send units of one of your orders back (the `write` scope).",
    )
    async def request_return(
        self,
        info: strawberry.Info,
        order_id: strawberry.ID,
        lines: list[ReturnLineInput],
        idempotency_key: str | None = None,
    ) -> RequestReturnResult | None:  # type: ignore[valid-type]
        context = context_of(info)
        caller = _caller(context, WRITE_SCOPE)
        key = key_of_request(info, idempotency_key)
        order = identifier(order_id, "orderId")
        _lines(len(lines))
        requested = [
            RequestedReturnLine(
                _line_number(line.line_number, f"lines[{index}].lineNumber"),
                _units(line.quantity, f"lines[{index}].quantity"),
                DomainReason(line.reason),
            )
            for index, line in enumerate(lines)
        ]
        commands = context.services.return_commands
        outcome = await _command(commands.request_return(caller, key, order, requested))
        return _request_result(outcome)

    @strawberry.federation.mutation(
        requires_scopes=access.WAREHOUSE,
        policy=access.WAREHOUSE_STAFF,
        description="Receive the goods of a return in one of your warehouses, each line "
        "graded (the `warehouse` scope).",
    )
    async def receive_return(
        self,
        info: strawberry.Info,
        rma_id: strawberry.ID,
        lines: list[ReceivedLineInput],
        idempotency_key: str | None = None,
    ) -> ReceiveReturnResult | None:  # type: ignore[valid-type]
        context = context_of(info)
        caller = _caller(context, WAREHOUSE_SCOPE)
        key = key_of_request(info, idempotency_key)
        rma = identifier(rma_id, "rmaId")
        _lines(len(lines))
        received = [
            ReceiptLine(
                identifier(line.sku, f"lines[{index}].sku"),
                DomainQuantity(
                    _units(line.quantity, f"lines[{index}].quantity"), UnitOfMeasure.EACH
                ),
                DomainDisposition(line.disposition),
            )
            for index, line in enumerate(lines)
        ]
        commands = context.services.return_commands
        outcome = await _command(commands.receive_return(caller, key, rma, received))
        return _receive_result(outcome)


def _line_number(value: int, argument: str) -> int:
    if not 1 <= value <= 99_999:
        raise PublicError(f"{argument} must be an order line number (1 to 99999)", BAD_USER_INPUT)
    return value


schema = SubgraphSchema(query=Query, mutation=Mutation, types=[OrderReturns])
