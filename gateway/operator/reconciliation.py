"""`admin reconciliation run | runs | variances`: compare the ERP's book stock with the WMS's
count now and print what differs; list earlier runs and their variances.

A run made here is recorded like a scheduled one (the gateways' `/admin/reconciliation/*`
routes and the next scheduled run see it): it reads both backends whole, through the
configured backend clients."""

from __future__ import annotations

import argparse

from gateway.operator.console import CommandError, console, malformed, print_json, table
from gateway.operator.context import Operator
from gateway.reconciliation_admin import RUN_ID, run_summary, variance_summary
from stores.reconciliation import ReconciliationRun
from system_apis.errors import BackendError

MAX_VARIANCES = 10_000
MAX_RUNS = 100


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser(
        "reconciliation", help="ERP book stock against the WMS's count"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    run = group.add_parser("run", parents=[common], help="reconcile now and print the variances")
    run.add_argument("--limit", type=int, default=200, help="variances to print at most")
    run.set_defaults(run=run_now)
    runs = group.add_parser("runs", parents=[common], help="the latest runs")
    runs.add_argument("--limit", type=int, default=20, help=f"at most this many (≤{MAX_RUNS})")
    runs.set_defaults(run=list_runs)
    variances = group.add_parser("variances", parents=[common], help="a run's variances")
    variances.add_argument("--run", dest="run_id", default="latest", help="a run id, or latest")
    variances.add_argument("--limit", type=int, default=200, help="variances to print at most")
    variances.add_argument("--json", action="store_true", help="print JSON instead of a table")
    variances.set_defaults(run=show_variances)


def _limit(value: int, maximum: int) -> int:
    if not 1 <= value <= maximum:
        raise malformed(f"--limit: a whole number from 1 to {maximum}")
    return value


async def run_now(operator: Operator, arguments: argparse.Namespace) -> int:
    limit = _limit(arguments.limit, MAX_VARIANCES)
    try:
        with console().status("reading the ERP's book stock and the WMS's count"):
            run = await operator.services.reconciliation.run()
    except BackendError as error:
        raise CommandError(f"the reconciliation could not run: {error.public_message}") from error
    await _print_variances(operator, run, limit, as_json=False)
    return 0


async def list_runs(operator: Operator, arguments: argparse.Namespace) -> int:
    runs = await operator.stores.reconciliation.runs(_limit(arguments.limit, MAX_RUNS))
    if not runs:
        raise CommandError("no reconciliation has run yet")
    console().print(
        table(
            "Reconciliation runs",
            ("run", "started", "finished", "compared", "variances"),
            (
                (
                    run.run_id,
                    run.started_at.isoformat(timespec="seconds"),
                    run.finished_at.isoformat(timespec="seconds"),
                    run.compared,
                    run.variances,
                )
                for run in runs
            ),
        )
    )
    return 0


async def show_variances(operator: Operator, arguments: argparse.Namespace) -> int:
    limit = _limit(arguments.limit, MAX_VARIANCES)
    store = operator.stores.reconciliation
    if arguments.run_id == "latest":
        run = await store.latest()
        if run is None:
            raise CommandError("no reconciliation has run yet")
    elif RUN_ID.fullmatch(arguments.run_id):
        run = await store.run(arguments.run_id)
        if run is None:
            raise CommandError(f"no reconciliation run {arguments.run_id}")
    else:
        raise malformed(f"--run: {arguments.run_id[:80]!r} is not a run id (rec-…) or latest")
    await _print_variances(operator, run, limit, as_json=arguments.json)
    return 0


async def _print_variances(
    operator: Operator, run: ReconciliationRun, limit: int, *, as_json: bool
) -> None:
    variances = await operator.stores.reconciliation.variances(run.run_id, after=None, limit=limit)
    if as_json:
        print_json({"run": run_summary(run), "variances": [variance_summary(v) for v in variances]})
        return
    out = console()
    out.print(
        f"Run {run.run_id}: {run.compared} warehouse and item pairs compared, "
        f"{run.variances} differ"
    )
    if variances:
        out.print(
            table(
                "Variances" + (f" (first {limit})" if run.variances > limit else ""),
                ("warehouse", "item", "unit", "ERP", "WMS", "difference"),
                (
                    (
                        v.warehouse_id,
                        v.sku,
                        v.unit,
                        v.erp_quantity,
                        v.wms_quantity,
                        v.difference,
                    )
                    for v in variances
                ),
            )
        )
