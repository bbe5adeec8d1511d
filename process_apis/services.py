"""The process layer assembled over the system clients and the stores, built once per process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiocache.base import BaseCache

from process_apis.freshness import DEFAULT_WINDOWS_S, SourceFreshness
from process_apis.inventory import InventoryQueries
from process_apis.live.gate import ReadModelGate
from process_apis.live.hub import SubscriptionHub
from process_apis.live.updates import LiveUpdates
from process_apis.once import BackendKeyed
from process_apis.orders import OrderQueries
from process_apis.ownership import OrderOwnership
from process_apis.projections_inventory import INVENTORY
from process_apis.projections_milestones import MILESTONE_HISTORY
from process_apis.projections_orders import ORDERS
from process_apis.projections_shipments import SHIPMENTS
from process_apis.reconciliation import StockReconciliation
from process_apis.returns import ReturnCommands, ReturnQueries
from process_apis.tracking import MilestoneRecorder, ShipmentTracking
from process_apis.warehouse import WarehouseCommands
from process_apis.workflows.engine import RetryPolicy
from process_apis.workflows.service import Workflows, build_workflows
from stores.bundle import Stores
from system_apis.bundle import SystemClients
from system_apis.wms.events import POSITION_AGGREGATE


@dataclass(frozen=True, slots=True)
class LogisticsServices:
    orders: OrderQueries
    inventory: InventoryQueries
    tracking: ShipmentTracking
    recorder: MilestoneRecorder
    returns: ReturnQueries
    return_commands: ReturnCommands
    owners: OrderOwnership
    warehouse: WarehouseCommands
    live: LiveUpdates
    workflows: Workflows
    freshness: SourceFreshness
    reconciliation: StockReconciliation


LIVE_READ_MODELS: Mapping[str, tuple[str, ...]] = {
    "Shipment": (MILESTONE_HISTORY, SHIPMENTS),
    "Order": (ORDERS,),
    POSITION_AGGREGATE: (INVENTORY,),
}
"""Per aggregate type, the projections (consumer names) a live update waits for, so a
subscriber who fetches the entity with the event sees the change."""


def build_services(
    clients: SystemClients,
    stores: Stores,
    cache: BaseCache,
    *,
    duplicate_wait_s: float = 2.0,
    workflow_retry: RetryPolicy | None = None,
    freshness_windows_s: Mapping[str, float] = DEFAULT_WINDOWS_S,
) -> LogisticsServices:
    owners = OrderOwnership(clients.erp, cache, read_model=stores.orders)
    freshness = SourceFreshness(stores.heard, freshness_windows_s)
    return LogisticsServices(
        orders=OrderQueries(clients.erp, owners, stores.orders, freshness),
        inventory=InventoryQueries(stores.inventory, freshness),
        tracking=ShipmentTracking(
            shipments=stores.shipments,
            history=stores.milestones,
            owners=owners,
            freshness=freshness,
        ),
        recorder=MilestoneRecorder(event_log=stores.event_log),
        returns=ReturnQueries(clients.erp, clients.wms, owners),
        return_commands=ReturnCommands(
            clients.erp, clients.wms, stores.event_log, once=BackendKeyed()
        ),
        owners=owners,
        warehouse=WarehouseCommands(clients.wms, stores.idempotency, wait_s=duplicate_wait_s),
        live=LiveUpdates(
            SubscriptionHub(
                stores.event_log,
                appended=stores.appended,
                read_models=ReadModelGate(stores.positions, LIVE_READ_MODELS, stores.progressed),
            ),
            tms=clients.tms,
            owners=owners,
            history=stores.milestones,
        ),
        workflows=build_workflows(clients, stores, retry_policy=workflow_retry, owners=owners),
        freshness=freshness,
        reconciliation=StockReconciliation(clients.erp, clients.wms, stores.reconciliation),
    )
