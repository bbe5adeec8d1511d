"""The access rules the built-in subgraphs declare, as federation directives.

The router enforces them before planning (``@requiresScopes``, ``@policy``), and the
composed supergraph shows them, so a rule is read where the field is declared. Resolvers keep
their own checks (the tenant of every record, the warehouse of every write) beneath them.
Operating the deployment (dead letters, workflows, reconciliation, keys, costs) is done through
the `/admin` routes, which need the admin scope themselves; no GraphQL field is admin-only.
"""

from __future__ import annotations

READ = [["read"]]
"""Portal reads: the customer's orders, shipments, invoices, returns, stock and workflows."""

WRITE = [["write"]]
"""A customer's own requests (a return)."""

WAREHOUSE = [["warehouse"]]
"""Warehouse writes: picks, packs, stock adjustments, receiving returns."""

WAREHOUSE_STAFF = [["warehouse_staff"]]
"""The policy a warehouse writer must satisfy too: it works in some warehouse."""

TENANT_MEMBER = [["tenant_member"]]
"""The policy a caller must satisfy to see a tenant's records at all: it acts for a tenant."""
