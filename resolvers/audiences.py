"""Who a part of the experience API is meant for, as `@tag`s that contracts filter by.

`PARTNER` marks what a partner acting for a customer may read: the customer's orders,
shipments and invoices, and their live updates. The gateway's partner contract
(`[contracts.partner] include_tags = ["partner"]`) keeps only what carries it, so warehouse
writes, returns, stock, workflows and operations stay out of partners' schema. A tag on a
type counts for each of its fields in every subgraph, so types that other subgraphs extend
(`Order`, `Item`) are tagged field by field.
"""

from __future__ import annotations

from strawberry.federation.schema_directives import Tag

PARTNER = Tag(name="partner")
