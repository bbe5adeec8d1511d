"""`logistics-gateway admin …`: the operators' commands, run against the configured stores.

The same configuration file and `LG_*` variables the gateway reads decide which engines the
commands act on (SQLite and the SQL event log, or PostgreSQL and NATS JetStream), so an
operator repairs a deployment through the product's own code paths, never by editing a
database by hand: a replay goes through the webhook ingress, a rebuild through the
projections, a retry or a cancellation through the workflow engine.
"""

from gateway.operator.command import add_admin_command

__all__ = ["add_admin_command"]
