"""The billing subgraph: invoices and freight charges of an order, from the ERP."""

from __future__ import annotations

from datetime import date

import strawberry

from domain.billing import Invoice as DomainInvoice
from domain.billing import InvoiceStatus as DomainInvoiceStatus
from resolvers import access
from resolvers.audiences import PARTNER
from resolvers.cache_control import INHERIT, CacheControl
from resolvers.context import context_of
from resolvers.cost import BACKEND_READ
from resolvers.guard import or_none, or_raise
from resolvers.loaders import loaders_of
from resolvers.schema import SubgraphSchema
from resolvers.values import Money, identifier

InvoiceStatus = strawberry.enum(DomainInvoiceStatus, name="InvoiceStatus")


@strawberry.type(directives=[INHERIT, PARTNER])
class FreightCharge:
    carrier: str
    tracking_number: str
    amount: Money


@strawberry.federation.type(
    policy=access.TENANT_MEMBER, directives=[CacheControl(max_age=300), PARTNER]
)
class Invoice:
    id: strawberry.ID
    issued_on: date
    due_on: date
    net: Money
    tax: Money
    gross: Money
    status: InvoiceStatus
    freight: list[FreightCharge]

    @classmethod
    def of(cls, invoice: DomainInvoice) -> Invoice:
        return cls(
            id=strawberry.ID(invoice.invoice_id),
            issued_on=invoice.issued_on,
            due_on=invoice.due_on,
            net=Money.of(invoice.net),
            tax=Money.of(invoice.tax),
            gross=Money.of(invoice.gross),
            status=invoice.status,
            freight=[
                FreightCharge(
                    carrier=f.carrier, tracking_number=f.tracking_number, amount=Money.of(f.amount)
                )
                for f in invoice.freight
            ],
        )


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID

    @strawberry.federation.field(
        description="The order's invoices (empty until it has shipped; null when the ERP "
        "cannot answer, with an error saying so).",
        directives=[BACKEND_READ, PARTNER],
    )
    async def invoices(self, info: strawberry.Info) -> list[Invoice] | None:
        order_id = identifier(self.id, "id")
        invoices = await or_raise(loaders_of(info).invoices_of_order.load(order_id))
        return [Invoice.of(i) for i in invoices or ()]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Order:
        return cls(id=id)


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=access.READ,
        description="An invoice of the calling customer by its number.",
        directives=[PARTNER],
    )
    async def invoice(self, info: strawberry.Info, id: strawberry.ID) -> Invoice | None:
        invoice_id = identifier(id, "id")
        context = context_of(info)
        invoice = await or_none(
            context.services.orders.invoice(context.principal.tenant_id, invoice_id)
        )
        return Invoice.of(invoice) if invoice else None


schema = SubgraphSchema(query=Query, types=[Order])
