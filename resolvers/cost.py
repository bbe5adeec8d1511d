"""What the experience API's lists and backend reads cost, declared where the schema says so.

The router's demand control reads these from the composed supergraph (``@listSize`` and
``@cost``) to estimate an operation before it runs: a page is as long as its ``first``
argument says, a history as long as histories usually get, and a field answered by a
backend call (rather than a read model) weighs more than one read from memory. Lists left
without ``@listSize`` are assumed the router's default length.
"""

from __future__ import annotations

from strawberry.federation.schema_directives import Cost, ListSize


def page_of(items: str) -> ListSize:
    """A page type's list (``orders``, ``positions``, ``returns``) is as long as ``first``."""
    return ListSize(slicing_arguments=["first"], sized_fields=[items])


ORDER_LINES = ListSize(assumed_size=20, require_one_slicing_argument=False)
"""Lines of one sales order: a portal order rarely has more."""
STOCK_BINS = ListSize(assumed_size=50, require_one_slicing_argument=False)
"""Bins one SKU is stocked in; more than 500 is refused outright (RESULT_TOO_LARGE)."""
MILESTONES = ListSize(assumed_size=30, require_one_slicing_argument=False)
"""A shipment's carrier history, every event kept: a long journey with exceptions."""
SHIPMENTS_OF_ORDER = ListSize(assumed_size=5, require_one_slicing_argument=False)
"""An order ships in a few deliveries at most."""
BACKEND_READ = Cost(weight=5)
"""A field answered by a call to a backend system (the ERP) rather than a read model."""
