"""The workflows subgraph: a customer's workflows (order to ship, ship to invoice) with their
steps, as the workflow runner recorded them. Another customer's workflow is null, exactly as
one that does not exist. A workflow referenced from another subgraph (the live subgraph's
`workflowChanged`) resolves here, under the same rule."""

from __future__ import annotations

from datetime import datetime

import strawberry

from process_apis.workflows.service import WorkflowView
from resolvers import access
from resolvers.context import context_of
from resolvers.schema import SubgraphSchema
from resolvers.values import identifier
from stores.workflows import StepState as DomainStepState
from stores.workflows import WorkflowState as DomainWorkflowState

WorkflowState = strawberry.enum(DomainWorkflowState, name="WorkflowState")
WorkflowStepState = strawberry.enum(DomainStepState, name="WorkflowStepState")


@strawberry.type(description="One step of a workflow, a compensation (compensate:<step>) too.")
class WorkflowStep:
    name: str
    state: WorkflowStepState
    attempts: int
    error: str | None = strawberry.field(description="Why the step waits, was held or failed.")
    started_at: datetime
    finished_at: datetime | None


@strawberry.federation.type(
    keys=["id"], policy=access.TENANT_MEMBER, description="A durable cross-system workflow."
)
class Workflow:
    id: strawberry.ID
    kind: str
    subject: str = strawberry.field(description="The order or shipment the workflow is for.")
    state: WorkflowState
    reason: str | None = strawberry.field(description="Why it waits, is held or failed.")
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    steps: list[WorkflowStep]

    @classmethod
    def of(cls, view: WorkflowView) -> Workflow:
        workflow = view.workflow
        return cls(
            id=strawberry.ID(workflow.workflow_id),
            kind=workflow.kind,
            subject=workflow.subject,
            state=workflow.state,
            reason=workflow.reason,
            next_attempt_at=workflow.next_attempt_at,
            created_at=workflow.created_at,
            updated_at=workflow.updated_at,
            steps=[
                WorkflowStep(
                    name=step.step,
                    state=step.state,
                    attempts=step.attempts,
                    error=step.error,
                    started_at=step.started_at,
                    finished_at=step.finished_at,
                )
                for step in view.steps
            ],
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Workflow | None:
        return await _workflow(info, id)


async def _workflow(info: strawberry.Info, workflow_id: object) -> Workflow | None:
    checked = identifier(workflow_id, "id")
    context = context_of(info)
    view = await context.services.workflows.for_tenant(context.principal.tenant_id, checked)
    return None if view is None else Workflow.of(view)


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="A workflow of the calling customer by its id, with its steps.",
    )
    async def workflow(self, info: strawberry.Info, id: strawberry.ID) -> Workflow | None:
        return await _workflow(info, id)


schema = SubgraphSchema(query=Query)
