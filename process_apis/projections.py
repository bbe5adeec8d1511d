"""The read models' projections, run once per deployment, and their rebuild from a point in time.

Projections (one concept each, one module each):

- `milestone-history` (`projections_milestones`): `shipment.milestone` events into the milestone
  history, the timeline behind every shipment status;
- `shipments` (`projections_shipments`): `shipment.booked` and `shipment.dispatched` into the
  shipments read model;
- `orders` (`projections_orders`): `order.changed` (the ERP order feed) into the orders read
  model, the latest change per order;
- `inventory` (`projections_inventory`): `inventory.adjusted` and `inventory.position` into the
  inventory read model (stock per SKU, warehouse and bin).

Each follows the log under the `ConsumerRunner` (`process_apis.consumers`): its position is kept
in the shared position store, it survives a restart (it resumes at its position, and `apply`
is idempotent, so a batch applied twice after a crash changes nothing), and one process per
deployment applies it at a time (the runner's lease).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from process_apis.consumers import LEASE_PREFIX, ConsumerBusy, ConsumerRunner
from process_apis.projections_inventory import InventoryProjection
from process_apis.projections_milestones import MilestoneHistoryProjection
from process_apis.projections_orders import OrdersProjection
from process_apis.projections_shipments import ShipmentsProjection
from stores.bundle import Stores
from stores.event_log import StoredEvent

logger = logging.getLogger(__name__)


class Projection(Protocol):
    """A log consumer that writes a read model and can forget what events after a position
    brought to it (so the read model can be rebuilt from that point)."""

    name: str

    async def apply(self, events: Sequence[StoredEvent]) -> None: ...

    async def forget_after(self, position: int) -> None: ...

    async def reset(self) -> None: ...


def build_projections(stores: Stores) -> tuple[Projection, ...]:
    return (
        MilestoneHistoryProjection(stores.milestones),
        ShipmentsProjection(stores.shipments),
        OrdersProjection(stores.orders),
        InventoryProjection(stores.inventory),
    )


async def rebuild(
    runner: ConsumerRunner,
    projection: Projection,
    from_position: int = 0,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild `projection`'s read model from the log as of `from_position` (0: from scratch):
    what later events brought is forgotten, then the log is applied again from there; the
    result is the read model the projection had built by following the log.

    Holds the projection's lease throughout, so no runner applies meanwhile; raises
    `ConsumerBusy` when another process holds it (rebuild there, or stop that process)."""
    if from_position < 0:
        raise ValueError("from_position must be 0 or more")
    lease = LEASE_PREFIX + projection.name
    if not await runner.leases.acquire(lease, runner.holder_id, runner.lease_ttl_s):
        raise ConsumerBusy(f"{projection.name} is being applied by another process")
    await projection.forget_after(from_position)
    return await runner.rebuild(projection, from_position=from_position, progress=progress)


async def run_projections(
    runner: ConsumerRunner, projections: Sequence[Projection], stop: asyncio.Event
) -> None:
    """Follow the log with every projection until `stop` is set (each under its own lease)."""
    await asyncio.gather(*(runner.run(projection, stop) for projection in projections))


async def catch_up(runner: ConsumerRunner, projections: Sequence[Projection]) -> None:
    """Apply everything appended so far to every projection, here and now."""
    for projection in projections:
        await runner.catch_up(projection)
