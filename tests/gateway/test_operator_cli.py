"""`logistics-gateway admin …` as an operator runs it: a process of its own, given the
deployment's configuration file, acting on the embedded stores (SQLite and the SQL event log)
and on the scale-out engines (PostgreSQL and NATS JetStream) alike.

The state it acts on is made beforehand through the stores themselves: dead letters whose
cause is fixed (a body the reader now takes), whose events the log already holds, and whose
body is still unreadable; a workflow held for a person. The reconciliation reads the
reference ERP and WMS.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import update

from domain.shipments import MilestoneStatus
from gateway.cli import main
from process_apis.tracking import MilestoneRecorder
from stores import Stores, open_stores
from stores.dead_letters import DEAD_LETTERS
from stores.workflows import WorkflowRecord, WorkflowState
from system_apis.swiftparcel.webhooks import read_swiftparcel_webhook
from tests.conftest import fresh_postgres_database
from tests.gateway.conftest import write_config
from tests.sandbox_processes import REPOSITORY, Sandbox, free_port

COMMAND_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Deployment:
    name: str
    config: Path
    database_url: str
    event_log: str
    stream: str
    prefix: str

    async def stores(self) -> Stores:
        return await open_stores(
            self.database_url, self.event_log, stream=self.stream, subject_prefix=self.prefix
        )


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return orjson.loads(self.out)


def admin(deployment: Deployment, *arguments: str) -> Ran:
    """`logistics-gateway admin ARGUMENTS --config …` in a process of its own."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "admin",
            *arguments,
            "--config",
            str(deployment.config),
        ],
        cwd=REPOSITORY,
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    return Ran(completed.returncode, completed.stdout, completed.stderr)


async def delete_stream(nats_url: str, name: str) -> None:
    import nats
    import nats.js.errors

    client = await nats.connect(nats_url)
    try:
        with suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(name)
    finally:
        await client.close()


@pytest.fixture(scope="module", params=["embedded", "scale-out"])
def deployment(
    request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp(f"operator-{request.param}")
    suffix = uuid.uuid4().hex[:8]
    stream, prefix = f"OPERATOR_{suffix}", f"operator{suffix}.events"
    if request.param == "embedded":
        database, event_log, cleanup = (
            f"sqlite+aiosqlite:///{directory / 'state.sqlite3'}",
            "sql",
            None,
        )
        context = None
    else:
        nats_url = request.getfixturevalue("nats_url")
        context = fresh_postgres_database()
        database, event_log = context.__enter__(), nats_url
        cleanup = nats_url
    config = directory / "gateway.toml"
    stores = (
        f'database_url = "{database}"\nevent_log = "{event_log}"\n'
        f'event_stream = "{stream}"\nevent_subject_prefix = "{prefix}"'
    )
    write_config(
        config, sandbox, free_port(), directory / "unused.sqlite3", polling=False, stores=stores
    )
    try:
        yield Deployment(request.param, config, database, event_log, stream, prefix)
    finally:
        if cleanup is not None:
            asyncio.run(delete_stream(cleanup, stream))
        if context is not None:
            context.__exit__(None, None, None)


def swift_body(tracking_number: str, code: str = "IT") -> bytes:
    event = {
        "id": f"ev-{tracking_number}-{code}",
        "code": code,
        "timestamp": "2025-03-01T08:00:00Z",
    }
    return orjson.dumps({"trackingNumber": tracking_number, "event": event})


@dataclass(frozen=True)
class Seeded:
    fixed: str
    """A letter whose body the reader takes now: replaying it applies a new milestone."""
    fixed_tracking: str
    known: str
    """A letter whose milestone the sender delivered again meanwhile: a duplicate."""
    broken: str
    """Still unreadable: fails again."""
    old: str
    """A WMS letter from three days ago."""
    workflow_id: str


async def seed(deployment: Deployment) -> Seeded:
    stores = await deployment.stores()
    try:
        letters = stores.dead_letters
        fixed_tracking, known_tracking = (
            f"SPF{uuid.uuid4().hex[:10]}",
            f"SPK{uuid.uuid4().hex[:10]}",
        )
        fixed = await letters.put(
            source="swiftparcel",
            reason="unknown swiftparcel status code 'ZZ' at body.event.code",
            content_type="application/json",
            headers={"content-type": "application/json"},
            body=swift_body(fixed_tracking),
            correlation_id="corr-fixed",
        )
        known_body = swift_body(known_tracking)
        await MilestoneRecorder(stores.event_log).record(read_swiftparcel_webhook(known_body))
        known = await letters.put(
            source="swiftparcel",
            reason="unknown swiftparcel status code 'ZZ' at body.event.code",
            content_type="application/json",
            headers={},
            body=known_body,
            correlation_id="corr-known",
        )
        broken = await letters.put(
            source="swiftparcel",
            reason="body: not JSON",
            content_type="application/json",
            headers={},
            body=b'{"trackingNumber": "SP1", "event": {',
            correlation_id="corr-broken",
        )
        old = await letters.put(
            source="wms",
            reason="an old problem with a WMS event",
            content_type="application/json",
            headers={},
            body=b"{}",
            correlation_id="corr-old",
        )
        async with stores.engine.begin() as connection:
            await connection.execute(
                update(DEAD_LETTERS)
                .where(DEAD_LETTERS.c.dead_letter_id == old.dead_letter_id)
                .values(received_at=datetime.now(UTC) - timedelta(days=3))
            )
        now = datetime.now(UTC)
        workflow_id = f"ship-to-invoice.SPW{uuid.uuid4().hex[:10]}"
        await stores.workflows.create(
            WorkflowRecord(
                workflow_id=workflow_id,
                kind="ship-to-invoice",
                subject=workflow_id.split(".", 1)[1],
                tenant_id="C-1001",
                state=WorkflowState.HELD,
                inputs={"tracking_number": workflow_id.split(".", 1)[1]},
                reason="freight differs from the booked rate",
                attempts=0,
                next_attempt_at=None,
                version=1,
                run=1,
                correlation_id="corr-workflow",
                created_at=now,
                updated_at=now,
            )
        )
        return Seeded(
            fixed.dead_letter_id,
            fixed_tracking,
            known.dead_letter_id,
            broken.dead_letter_id,
            old.dead_letter_id,
            workflow_id,
        )
    finally:
        await stores.close()


@pytest.fixture(scope="module")
def seeded(deployment: Deployment) -> Seeded:
    return asyncio.run(seed(deployment))


def test_dead_letters_are_listed_by_time_source_and_reason_and_shown_whole(deployment, seeded):
    recent = admin(deployment, "dead-letters", "list", "--since", "1d", "--json")
    assert recent.code == 0, recent.err
    ids = {letter["id"] for letter in recent.json()["dead_letters"]}
    assert {seeded.fixed, seeded.known, seeded.broken} <= ids and seeded.old not in ids

    old = admin(
        deployment, "dead-letters", "list", "--source", "wms", "--reason", "OLD PROBLEM", "--json"
    )
    assert [letter["id"] for letter in old.json()["dead_letters"]] == [seeded.old]

    shown = admin(deployment, "dead-letters", "show", seeded.fixed)
    assert shown.code == 0, shown.err
    assert seeded.fixed_tracking in shown.out and "unknown swiftparcel status code" in shown.out


def replay_counts(out: str) -> tuple[int, ...]:
    """(applied, duplicates, failed again, events stored) from the summary table."""
    after = out[out.index("Replay") :]
    row = next(line for line in after.splitlines() if line.startswith("│"))
    return tuple(int(cell) for cell in row.strip("│ ").split("│"))


def test_replaying_since_a_time_applies_the_fixed_counts_duplicates_and_reports_failures(
    deployment, seeded
):
    replayed = admin(deployment, "dead-letters", "replay", "--since", "2h")
    assert replayed.code == 1, "a letter that fails again makes the exit code 1"
    assert replay_counts(replayed.out) == (1, 1, 1, 1), replayed.out
    failures = replayed.out[replayed.out.index("Failed again") :]
    assert seeded.broken in failures and "rejected" in failures
    assert seeded.old not in replayed.out

    async def check() -> None:
        stores = await deployment.stores()
        try:
            events = await stores.event_log.read(after=0, limit=10_000)
            mine = [e for e in events if e.envelope.aggregate_id == seeded.fixed_tracking]
            assert len(mine) == 1, "the fixed letter's milestone is in the log once"
            letter = await stores.dead_letters.get(seeded.fixed)
            assert letter is not None and letter.replay_outcome == "accepted 1"
        finally:
            await stores.close()

    asyncio.run(check())
    again = admin(deployment, "dead-letters", "replay", seeded.fixed)
    assert again.code == 0, again.err
    assert replay_counts(again.out) == (0, 1, 0, 0), again.out


def test_a_read_model_is_rebuilt_from_the_log(deployment, seeded):
    async def projected() -> list[Any]:
        stores = await deployment.stores()
        try:
            return list(await stores.milestones.history(seeded.fixed_tracking))
        finally:
            await stores.close()

    rebuilt = admin(deployment, "read-models", "rebuild", "milestone-history")
    assert rebuilt.code == 0, rebuilt.err
    assert "milestone-history" in rebuilt.out and "Rebuilt" in rebuilt.out
    history = asyncio.run(projected())
    assert [m.status for m in history] == [MilestoneStatus.IN_TRANSIT], (
        "the milestone replayed from the dead letter is in the rebuilt history"
    )
    listed = admin(deployment, "read-models", "list")
    assert listed.code == 0 and "milestone-history" in listed.out


def test_a_rebuild_that_would_skip_events_is_refused(deployment, seeded, capsys):
    arguments = ["read-models", "rebuild", "orders", "--from", "999999"]
    code = main(["admin", *arguments, "--config", str(deployment.config)])
    assert code == 1 and "would skip" in capsys.readouterr().err


def test_a_held_workflow_is_listed_cancelled_shown_and_started_over(deployment, seeded):
    listed = admin(deployment, "workflows", "list", "--state", "HELD", "--json")
    assert seeded.workflow_id in [w["id"] for w in listed.json()["workflows"]]
    cancelled = admin(deployment, "workflows", "cancel", seeded.workflow_id)
    assert cancelled.code == 0, cancelled.err
    assert "FAILED (cancelled by an operator)" in cancelled.out
    shown = admin(deployment, "workflows", "show", seeded.workflow_id, "--json").json()
    assert shown["workflow"]["state"] == "FAILED"
    assert [s["step"] for s in shown["steps"]] == ["cancel"]
    retried = admin(deployment, "workflows", "retry", seeded.workflow_id)
    assert retried.code == 0 and "RUNNING (run 2)" in retried.out, retried.err


def test_a_reconciliation_runs_now_and_prints_its_variances(deployment, seeded):
    ran = admin(deployment, "reconciliation", "run")
    assert ran.code == 0, ran.err
    assert "warehouse and item pairs compared" in ran.out
    latest = admin(deployment, "reconciliation", "variances", "--json").json()
    assert ran.out.startswith(f"Run {latest['run']['id']}:") or latest["run"]["id"] in ran.out
    assert latest["run"]["compared"] > 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("dead-letters", "show", "dl_" + "0" * 32), "no dead letter dl_"),
        (("workflows", "retry", "order-to-ship.nothing-here"), "no workflow order-to-ship."),
        (
            ("dead-letters", "replay", "--reason", "no such reason at all"),
            "no dead letter to replay",
        ),
    ],
)
def test_what_names_or_matches_nothing_is_said_with_exit_code_1(
    deployment, seeded, capsys, arguments, message
):
    """On each engine, through the command's entry point in this process (the processes above
    already show the command as operators run it)."""
    code = main(["admin", *arguments, "--config", str(deployment.config)])
    err = capsys.readouterr().err
    assert code == 1 and message in err, (code, err)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("dead-letters", "replay", "--since", "yesterday"), "is not a time"),
        (("dead-letters", "list", "--since", "2025-03-01T08:00:00"), "has no offset"),
        (("dead-letters", "list", "--since", "1d", "--until", "2d"), "--since must be before"),
        (("dead-letters", "show", "x" * 10_000), "is not a dead letter id"),
        (("dead-letters", "replay"), "name the letters to replay"),
        (("dead-letters", "list", "--limit", "1000000"), "--limit"),
        (("workflows", "list", "--state", "SLEEPING"), "--state: one of"),
        (("workflows", "show", "../../etc/passwd"), "is not a workflow id"),
        (("read-models", "rebuild", "everything"), "no read model 'everything'"),
        (("reconciliation", "variances", "--run", "rec-'; drop table"), "is not a run id"),
    ],
)
def test_malformed_input_is_refused_with_a_message_and_exit_code_2(
    tmp_path, capsys, arguments, message
):
    """What is malformed is so on every engine: the command's own entry point is called here,
    on SQLite, rather than a process started per case."""
    config = tmp_path / "gateway.toml"
    config.write_text(f'[stores]\ndatabase_url = "sqlite+aiosqlite:///{tmp_path / "s.db"}"\n')
    code = main(["admin", *arguments, "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and message in err, (code, err)
    assert "Traceback" not in err


def test_a_store_out_of_reach_is_one_sentence_without_credentials(tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[stores]\ndatabase_url = "postgresql+asyncpg://operator:s3cret@127.0.0.1:1/nowhere"\n'
    )
    ran = admin(Deployment("unreachable", config, "", "sql", "", ""), "workflows", "list")
    assert ran.code == 1 and "cannot open the stores" in ran.err, ran.err
    assert "s3cret" not in ran.err and "Traceback" not in ran.err


def test_admin_keys_reaches_the_keys_command(deployment, seeded):
    created = admin(
        deployment, "keys", "create", "--client", "cli-check", "--tenant", "C-1002", "--json"
    )
    assert created.code == 0, created.err
    key = created.json()
    revoked = admin(deployment, "keys", "revoke", key["key_id"])
    assert revoked.code == 0, revoked.err
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "keys",
            "list",
            "--json",
            "--config",
            str(deployment.config),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    (shown,) = [k for k in orjson.loads(listed.stdout) if k["key_id"] == key["key_id"]]
    assert shown["client"] == "cli-check" and shown["revoked_at"] is not None
