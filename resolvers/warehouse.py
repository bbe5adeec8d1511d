"""The warehouse subgraph: the warehouse app's writes (confirm a pick or a pack, adjust stock).

Every mutation takes an idempotency key, as the `idempotencyKey` argument or the
`Idempotency-Key` HTTP header: a retry under the same key gets the first answer and changes
nothing twice. Expected business failures are members of each result union, not errors; an
error means nothing was done and the same request may be retried under the same key.
Writes need the `warehouse` scope and reach only the caller's warehouses.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from domain.inventory import AdjustmentReason as DomainReason
from domain.locations import Location
from process_apis import warehouse_outcomes as outcomes
from process_apis.warehouse import (
    Actor,
    CommandInProgress,
    IdempotencyKeyReused,
    WarehouseCommands,
)
from resolvers import access
from resolvers.context import context_of
from resolvers.errors import PublicError, public_backend_error
from resolvers.idempotency import key_of_request
from resolvers.schema import SubgraphSchema
from resolvers.values import BAD_USER_INPUT, identifier
from system_apis.errors import BackendError
from system_apis.wms.models import PickTask

WAREHOUSE_SCOPE = "warehouse"
MAX_UNITS = 100_000
"""The most units one command may move; anything larger is a typing slip, refused as input."""


AdjustmentReason = strawberry.enum(
    DomainReason, description="Why stock is adjusted, as the WMS codes it."
)


@strawberry.type(description="A warehouse task as the WMS holds it after the command.")
class WarehouseTask:
    task_id: str
    task_type: str
    order_id: str
    warehouse_id: str
    bin: str
    sku: str
    quantity: Decimal
    state: str = strawberry.field(description="OPEN or DONE.")
    done_at: datetime | None

    @classmethod
    def of(cls, task: PickTask) -> WarehouseTask:
        return cls(
            task_id=task.task_id,
            task_type=task.task_type.value,
            order_id=task.order_id,
            warehouse_id=task.location.warehouse_id,
            bin=task.location.bin,
            sku=task.sku,
            quantity=task.quantity,
            state=task.state.value,
            done_at=task.done_at,
        )


@strawberry.type(description="The pick is confirmed; the task is done.")
class PickConfirmed:
    task: WarehouseTask


@strawberry.type(description="The pack is confirmed; the task is done.")
class PackConfirmed:
    task: WarehouseTask


@strawberry.type(description="Stock of one SKU in one bin as the WMS counts it.")
class BinStock:
    sku: str
    warehouse_id: str
    bin: str
    unit: str
    on_hand: Decimal
    allocated: Decimal
    available_to_promise: Decimal
    quarantined: Decimal
    returned: Decimal
    updated_at: datetime | None


@strawberry.type(description="Stock was adjusted; the bin as the WMS counts it now.")
class StockAdjusted:
    adjustment_id: str
    position: BinStock


@strawberry.type(description="No such task of this kind in your warehouses.")
class TaskNotFound:
    task_id: str
    message: str


@strawberry.type(description="The task was already confirmed by another request.")
class TaskAlreadyConfirmed:
    task_id: str
    message: str


@strawberry.type(description="The quantity is more than the task holds.")
class QuantityExceedsTask:
    task_id: str
    requested: Decimal
    maximum: Decimal
    message: str


@strawberry.type(description="The bin holds less than the command takes.")
class InsufficientStock:
    sku: str
    warehouse_id: str
    bin: str
    requested: Decimal
    on_hand: Decimal | None = strawberry.field(description="As the WMS counted it, when it said.")
    message: str


@strawberry.type(description="No such warehouse among yours.")
class UnknownLocation:
    warehouse_id: str
    bin: str
    message: str


ConfirmPickResult = Annotated[
    PickConfirmed | InsufficientStock | TaskNotFound | TaskAlreadyConfirmed | QuantityExceedsTask,
    strawberry.union("ConfirmPickResult"),
]
ConfirmPackResult = Annotated[
    PackConfirmed | TaskNotFound | TaskAlreadyConfirmed | QuantityExceedsTask,
    strawberry.union("ConfirmPackResult"),
]
AdjustStockResult = Annotated[
    StockAdjusted | InsufficientStock | UnknownLocation,
    strawberry.union("AdjustStockResult"),
]


def result_of(outcome: outcomes.Outcome) -> Any:
    """The GraphQL member for a process outcome."""
    if isinstance(outcome, outcomes.PickConfirmed):
        return PickConfirmed(task=WarehouseTask.of(outcome.task))
    if isinstance(outcome, outcomes.PackConfirmed):
        return PackConfirmed(task=WarehouseTask.of(outcome.task))
    if isinstance(outcome, outcomes.StockAdjusted):
        position = outcome.adjustment.position
        return StockAdjusted(
            adjustment_id=outcome.adjustment.adjustment_id,
            position=BinStock(
                sku=position.sku,
                warehouse_id=position.location.warehouse_id,
                bin=position.location.bin,
                unit=position.unit.value,
                on_hand=position.on_hand,
                allocated=position.allocated,
                available_to_promise=position.available_to_promise,
                quarantined=position.quarantined,
                returned=position.returned,
                updated_at=position.updated_at,
            ),
        )
    if isinstance(outcome, outcomes.TaskNotFound):
        message = f"no task {outcome.task_id} of this kind in your warehouses"
        return TaskNotFound(task_id=outcome.task_id, message=message)
    if isinstance(outcome, outcomes.TaskAlreadyConfirmed):
        message = f"task {outcome.task_id} was already confirmed"
        return TaskAlreadyConfirmed(task_id=outcome.task_id, message=message)
    if isinstance(outcome, outcomes.QuantityExceedsTask):
        return QuantityExceedsTask(
            task_id=outcome.task_id,
            requested=outcome.requested,
            maximum=outcome.maximum,
            message=f"task {outcome.task_id} holds {outcome.maximum}, not {outcome.requested}",
        )
    if isinstance(outcome, outcomes.InsufficientStock):
        where = f"{outcome.location.warehouse_id}/{outcome.location.bin}"
        counted = "" if outcome.on_hand is None else f", {outcome.on_hand} on hand"
        return InsufficientStock(
            sku=outcome.sku,
            warehouse_id=outcome.location.warehouse_id,
            bin=outcome.location.bin,
            requested=outcome.requested,
            on_hand=outcome.on_hand,
            message=f"not enough {outcome.sku} in {where} for {outcome.requested}{counted}",
        )
    assert isinstance(outcome, outcomes.UnknownLocation)
    return UnknownLocation(
        warehouse_id=outcome.location.warehouse_id,
        bin=outcome.location.bin,
        message=f"no warehouse {outcome.location.warehouse_id} among yours",
    )


def _writer(info: strawberry.Info) -> tuple[Actor, WarehouseCommands]:
    context = context_of(info)
    principal = context.principal
    if not principal.has_scope(WAREHOUSE_SCOPE):
        raise PublicError(f"the {WAREHOUSE_SCOPE} scope is required to write", "FORBIDDEN")
    actor = Actor(principal.tenant_id, principal.client_id, principal.warehouses)
    return actor, context.services.warehouse


def _units(value: int, argument: str, *, signed: bool = False) -> int:
    low_ok = value != 0 and value >= -MAX_UNITS if signed else value >= 1
    if not low_ok or value > MAX_UNITS:
        bounds = f"a non-zero whole number between -{MAX_UNITS} and {MAX_UNITS}"
        raise PublicError(
            f"{argument} must be {bounds if signed else f'between 1 and {MAX_UNITS}'}",
            BAD_USER_INPUT,
        )
    return value


async def _command(call: Any) -> Any:
    try:
        return result_of(await call)
    except IdempotencyKeyReused:
        raise PublicError(
            "this idempotency key was already used with different arguments; "
            "a new command needs a new key",
            "IDEMPOTENCY_KEY_REUSED",
        ) from None
    except CommandInProgress as error:
        raise PublicError(
            f"a request with this idempotency key is still in progress; retry in "
            f"{error.retry_after_s:.1f}s with the same key",
            "IDEMPOTENCY_KEY_IN_PROGRESS",
        ) from None
    except BackendError as error:
        public = public_backend_error(error)
        raise PublicError(
            f"{public}; nothing was recorded, retry with the same idempotency key",
            public.extensions["code"],
        ) from None


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=access.WAREHOUSE,
        policy=access.WAREHOUSE_STAFF,
        description="Confirm a pick task done (all of it, or `quantity`).",
    )
    async def confirm_pick(
        self,
        info: strawberry.Info,
        task_id: str,
        quantity: int | None = None,
        idempotency_key: str | None = None,
    ) -> ConfirmPickResult | None:
        actor, commands = _writer(info)
        key = key_of_request(info, idempotency_key)
        task = identifier(task_id, "taskId")
        units = None if quantity is None else _units(quantity, "quantity")
        return await _command(commands.confirm_pick(actor, key, task, units))

    @strawberry.federation.mutation(
        requires_scopes=access.WAREHOUSE,
        policy=access.WAREHOUSE_STAFF,
        description="Confirm a pack task done (all of it, or `quantity`).",
    )
    async def confirm_pack(
        self,
        info: strawberry.Info,
        task_id: str,
        quantity: int | None = None,
        idempotency_key: str | None = None,
    ) -> ConfirmPackResult | None:
        actor, commands = _writer(info)
        key = key_of_request(info, idempotency_key)
        task = identifier(task_id, "taskId")
        units = None if quantity is None else _units(quantity, "quantity")
        return await _command(commands.confirm_pack(actor, key, task, units))

    @strawberry.federation.mutation(
        requires_scopes=access.WAREHOUSE,
        policy=access.WAREHOUSE_STAFF,
        description="Add (delta > 0) or take (delta < 0) stock in a bin.",
    )
    async def adjust_stock(
        self,
        info: strawberry.Info,
        warehouse_id: str,
        bin: str,
        sku: str,
        delta: int,
        reason: AdjustmentReason,  # type: ignore[valid-type]
        idempotency_key: str | None = None,
    ) -> AdjustStockResult | None:
        actor, commands = _writer(info)
        key = key_of_request(info, idempotency_key)
        location = Location(identifier(warehouse_id, "warehouseId"), identifier(bin, "bin"))
        item = identifier(sku, "sku")
        units = _units(delta, "delta", signed=True)
        return await _command(
            commands.adjust_stock(actor, key, location, item, units, DomainReason(reason))
        )


schema = SubgraphSchema(mutation=Mutation)
