"""Per-request batching: a field asked once per parent in a list becomes one call for the list.

A page of fifty orders asks for each order's shipments and invoices; resolved one by one that
is a TMS and an ERP call per order. A loader collects the keys the request asks for in one tick
and fetches them together. The loaders live in the request's context (created on first use),
so nothing is shared between callers, and a tenant's loader only ever loads for that tenant.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from domain.billing import Invoice
from process_apis.tracking import TrackedShipment
from resolvers.context import SubgraphContext, context_of

CONTEXT_KEY = "loaders"


@dataclass(frozen=True, slots=True)
class RequestLoaders:
    shipments_of_order: DataLoader[str, tuple[TrackedShipment, ...]]
    invoices_of_order: DataLoader[str, tuple[Invoice, ...] | None]
    """None for an order the caller may not see."""


def loaders_of(info: Any) -> RequestLoaders:
    context = info.context
    found = context.get(CONTEXT_KEY) if isinstance(context, Mapping) else None
    if isinstance(found, RequestLoaders):
        return found
    loaders = _loaders(context_of(info))
    if isinstance(context, MutableMapping):
        context[CONTEXT_KEY] = loaders
    return loaders


def _loaders(context: SubgraphContext) -> RequestLoaders:
    tenant_id = context.principal.tenant_id
    tracking = context.services.tracking
    orders = context.services.orders

    async def shipments_of_orders(order_ids: list[str]) -> list[tuple[TrackedShipment, ...]]:
        shipments = await tracking.for_orders(tenant_id, order_ids)
        return [shipments[order_id] for order_id in order_ids]

    async def invoices_of_orders(order_ids: list[str]) -> list[tuple[Invoice, ...] | None]:
        invoices = await orders.invoices_of_orders(tenant_id, order_ids)
        return [invoices[order_id] for order_id in order_ids]

    return RequestLoaders(
        shipments_of_order=DataLoader(shipments_of_orders),
        invoices_of_order=DataLoader(invoices_of_orders),
    )
