"""The workflows as the rest of the product uses them: built over the system clients and the
stores, read per tenant (another tenant's workflow is not there), started and retried by an
operator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from process_apis.workflows.engine import (
    RetryPolicy,
    WorkflowEngine,
    definitions_by_kind,
)
from process_apis.workflows.order_to_ship import order_to_ship
from process_apis.workflows.return_to_restock import return_to_restock
from process_apis.workflows.ship_to_invoice import ship_to_invoice
from stores.bundle import Stores
from stores.workflows import StepRecord, WorkflowRecord, WorkflowState
from system_apis.bundle import SystemClients


@dataclass(frozen=True, slots=True)
class WorkflowView:
    workflow: WorkflowRecord
    steps: Sequence[StepRecord]


class Workflows:
    def __init__(self, engine: WorkflowEngine) -> None:
        self.engine = engine

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
    clients: SystemClients, stores: Stores, *, retry_policy: RetryPolicy | None = None
) -> Workflows:
    engine = WorkflowEngine(
        stores.workflows,
        stores.event_log,
        definitions_by_kind(
            (order_to_ship(clients), ship_to_invoice(clients), return_to_restock(clients))
        ),
        retry_policy=retry_policy or RetryPolicy(),
    )
    return Workflows(engine)
