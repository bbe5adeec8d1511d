"""The workflows as the rest of the product uses them: built over the system clients and the
stores, read per tenant (another tenant's workflow is not there), started and retried by an
operator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from process_apis.ownership import OrderOwnership
from process_apis.workflows.engine import (
    RetryPolicy,
    WorkflowEngine,
    definitions_by_kind,
)
from process_apis.workflows.order_to_ship import KIND as ORDER_TO_SHIP
from process_apis.workflows.order_to_ship import order_to_ship
from process_apis.workflows.return_to_restock import KIND as RETURN_TO_RESTOCK
from process_apis.workflows.return_to_restock import return_to_restock
from process_apis.workflows.ship_to_invoice import KIND as SHIP_TO_INVOICE
from process_apis.workflows.ship_to_invoice import ship_to_invoice
from stores.bundle import Stores
from stores.workflows import StepRecord, WorkflowRecord, WorkflowState
from system_apis.bundle import SystemClients
from system_apis.errors import BackendError


@dataclass(frozen=True, slots=True)
class WorkflowView:
    workflow: WorkflowRecord
    steps: Sequence[StepRecord]


INPUTS = {
    ORDER_TO_SHIP: "order_id",
    SHIP_TO_INVOICE: "tracking_number",
    RETURN_TO_RESTOCK: "rma_id",
}
"""Per kind, the input its subject is."""


class Workflows:
    def __init__(
        self,
        engine: WorkflowEngine,
        clients: SystemClients | None = None,
        owners: OrderOwnership | None = None,
    ) -> None:
        self.engine = engine
        self._clients = clients
        self._owners = owners

    async def start_by_hand(
        self, kind: str, subject: str, *, correlation_id: str
    ) -> tuple[WorkflowRecord, bool]:
        """An operator starts a workflow: its tenant is looked up first where the backends
        can say it now, so its customer sees it from its first change."""
        return await self.engine.start(
            kind,
            subject,
            {INPUTS[kind]: subject},
            tenant_id=await self._tenant_of(kind, subject),
            correlation_id=correlation_id,
        )

    async def _tenant_of(self, kind: str, subject: str) -> str | None:
        """Best effort: None when a backend cannot say now (the first step finds out)."""
        if self._clients is None or self._owners is None:
            return None
        try:
            if kind == ORDER_TO_SHIP:
                return await self._owners.owner_of(subject)
            if kind == SHIP_TO_INVOICE:
                booking = await self._clients.tms.booking_by_tracking_number(subject)
                return await self._owners.owner_of(booking.shipment.order_id)
            if kind == RETURN_TO_RESTOCK:
                return (await self._clients.erp.return_authorization(subject)).customer_id
        except BackendError:
            return None
        return None

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self.engine.definitions))

    async def view(self, workflow_id: str) -> WorkflowView | None:
        workflow = await self.engine.store.get(workflow_id)
        if workflow is None:
            return None
        return WorkflowView(workflow, await self.engine.store.steps(workflow_id))

    async def for_tenant(self, tenant_id: str, workflow_id: str) -> WorkflowView | None:
        """The workflow when it is the tenant's; None when another's or none (alike)."""
        workflow = await self.engine.store.get(workflow_id)
        if workflow is None or workflow.tenant_id != tenant_id:
            return None
        return WorkflowView(workflow, await self.engine.store.steps(workflow_id))

    async def page(
        self,
        *,
        state: WorkflowState | None = None,
        kind: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Sequence[WorkflowRecord]:
        return await self.engine.store.page(state=state, kind=kind, after=after, limit=limit)


def build_workflows(
    clients: SystemClients,
    stores: Stores,
    *,
    retry_policy: RetryPolicy | None = None,
    owners: OrderOwnership | None = None,
) -> Workflows:
    engine = WorkflowEngine(
        stores.workflows,
        stores.event_log,
        definitions_by_kind(
            (order_to_ship(clients), ship_to_invoice(clients), return_to_restock(clients))
        ),
        retry_policy=retry_policy or RetryPolicy(),
    )
    return Workflows(engine, clients, owners)
