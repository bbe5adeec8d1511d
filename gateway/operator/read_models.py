"""`admin read-models list | rebuild`: the projections' positions in the event log, and a
rebuild of one read model from the log (from scratch, or from a position).

Each projection is applied by one process of the deployment under a lease. A rebuild takes
that lease over from whoever holds it (a running gateway), waits half a lease period (the
holder renews every third of one, finds the lease gone, and stops applying), forgets what
the log brought after the chosen position, applies the log again from there, and hands the
lease back: the gateway then resumes following the log from where the rebuild ended.
"""

from __future__ import annotations

import argparse
import asyncio

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gateway.operator.console import CommandError, console, malformed, table
from gateway.operator.context import Operator
from process_apis.consumers import LEASE_PREFIX, ConsumerBusy, runner_for
from process_apis.projections import build_projections, rebuild

REBUILD_BATCH = 500


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser(
        "read-models", help="the read models the projections keep"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = group.add_parser(
        "list", parents=[common], help="each read model's position in the log and its holder"
    )
    listing.set_defaults(run=list_read_models)
    again = group.add_parser(
        "rebuild", parents=[common], help="rebuild a read model from the event log"
    )
    again.add_argument("name", metavar="NAME", help="milestone-history, shipments, orders, …")
    again.add_argument(
        "--from",
        dest="from_position",
        type=int,
        default=0,
        metavar="POSITION",
        help="keep what the log brought up to this position (default 0: from scratch)",
    )
    again.set_defaults(run=rebuild_read_model)


async def list_read_models(operator: Operator, _arguments: argparse.Namespace) -> int:
    stores = operator.stores
    rows = []
    for projection in build_projections(stores):
        rows.append(
            (
                projection.name,
                await stores.positions.get(projection.name),
                await stores.leases.holder(LEASE_PREFIX + projection.name) or "(none)",
            )
        )
    console().print(table("Read models", ("read model", "position", "applied by"), rows))
    return 0


async def rebuild_read_model(operator: Operator, arguments: argparse.Namespace) -> int:
    stores = operator.stores
    projections = {projection.name: projection for projection in build_projections(stores)}
    projection = projections.get(arguments.name)
    if projection is None:
        raise malformed(
            f"no read model {arguments.name[:80]!r}; one of {', '.join(sorted(projections))}"
        )
    if arguments.from_position < 0:
        raise malformed("--from: a position, 0 or more")
    applied_to = await stores.positions.get(projection.name)
    if arguments.from_position > applied_to:
        raise CommandError(
            f"{projection.name} has applied the log up to position {applied_to} only: a "
            f"rebuild from {arguments.from_position} would skip the events in between"
        )
    runner = runner_for(stores, batch_size=REBUILD_BATCH)
    lease = LEASE_PREFIX + projection.name
    out = console()
    previous = await stores.leases.take_over(lease, runner.holder_id, runner.lease_ttl_s)
    try:
        if previous is not None:
            out.print(
                f"{projection.name} is applied by {previous}; taking it over "
                f"(waiting {runner.lease_ttl_s / 2:g} s for that process to stop applying)"
            )
            await asyncio.sleep(runner.lease_ttl_s / 2)
        with Progress(
            SpinnerColumn(),
            TextColumn(
                "rebuilding {task.description}: {task.completed} events, "
                "position {task.fields[position]}"
            ),
            TimeElapsedColumn(),
            console=out,
        ) as progress:
            task = progress.add_task(projection.name, total=None, position=arguments.from_position)

            def advanced(applied: int, position: int) -> None:
                progress.update(task, completed=applied, position=position)

            try:
                position = await rebuild(
                    runner, projection, arguments.from_position, progress=advanced
                )
            except ConsumerBusy as error:  # taken back meanwhile: its holder is alive
                raise CommandError(f"{error}; try again") from error
    finally:
        await stores.leases.release(lease, runner.holder_id)
    out.print(
        table(
            "Rebuilt",
            ("read model", "from position", "now at position"),
            [(projection.name, arguments.from_position, position)],
        )
    )
    return 0
