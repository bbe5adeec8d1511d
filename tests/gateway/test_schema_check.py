"""`logistics-gateway schema check`, run as a process: the committed public schema against
what the subgraphs compose to now; breaking changes fail unless accepted."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BASE_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  order(id: ID!): Order
  orders(first: Int = 20): [Order!]!
}

type Order @key(fields: "id") {
  id: ID!
  status: OrderStatus!
  note: String
}

enum OrderStatus {
  OPEN
  SHIPPED
  CANCELLED
}
"""


@dataclass(frozen=True)
class Checked:
    returncode: int
    stdout: str
    stderr: str


class Project:
    """A project directory: one file subgraph, its committed schema and supergraph."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.subgraph = directory / "orders.graphql"
        self.schema = directory / "schema.graphql"
        self.supergraph = directory / "supergraph.graphql"
        self.changes = directory / "schema-changes.toml"
        (directory / "subgraphs.toml").write_text(
            '[subgraphs.orders]\nrouting_url = "http://orders.internal/graphql"\n'
            'schema = { file = "orders.graphql" }\n'
        )

    def check(self, *arguments: str) -> Checked:
        completed = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "schema", "check", *arguments],
            cwd=self.directory,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Checked(completed.returncode, completed.stdout, completed.stderr)

    def commit(self, sdl: str) -> None:
        """The subgraph as it is and the schema it composes to, as committed."""
        self.subgraph.write_text(sdl)
        accepted = self.check("--accept")
        assert accepted.returncode == 0, accepted.stderr


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    project.commit(BASE_SDL)
    return project


def test_the_repository_schema_has_no_unaccepted_breaking_change() -> None:
    """The guard CI runs: a subgraph change that breaks clients fails here until accepted."""
    completed = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "schema", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no changes against schema.graphql" in completed.stdout, completed.stdout


def test_a_changed_field_type_fails_with_its_coordinate(project: Project) -> None:
    committed = project.schema.read_text()
    project.subgraph.write_text(BASE_SDL.replace("status: OrderStatus!", "status: String!"))
    checked = project.check()
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "BREAKING   Order.status: type changed from OrderStatus! to String!" in checked.stdout
    assert "--accept" in checked.stderr
    assert project.schema.read_text() == committed, "a failed check must not write the schema"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  note: String\n", ""), "BREAKING   Order.note: field removed"),
        (("  CANCELLED\n", ""), "BREAKING   OrderStatus.CANCELLED: enum value removed"),
        (
            ("order(id: ID!)", "order(id: ID!, tenant: String!)"),
            "BREAKING   Query.order(tenant:): required argument added",
        ),
        (
            ("orders(first: Int = 20)", "orders(first: Int!)"),
            "BREAKING   Query.orders(first:): type changed from Int to Int! "
            "(nullability tightened: callers must now send a value)",
        ),
        (
            ("status: OrderStatus!", "status: OrderStatus"),
            "BREAKING   Order.status: type changed from OrderStatus! to OrderStatus "
            "(nullability loosened: clients may now get null)",
        ),
        (
            ("orders(first: Int = 20)", "orders"),
            "BREAKING   Query.orders(first:): argument removed",
        ),
    ],
)
def test_each_kind_of_breaking_change_fails(
    project: Project, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in BASE_SDL
    project.subgraph.write_text(BASE_SDL.replace(old, new, 1))
    checked = project.check()
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert expected in checked.stdout, checked.stdout


def test_safe_and_dangerous_changes_pass_and_are_listed(project: Project) -> None:
    project.subgraph.write_text(
        BASE_SDL.replace("  note: String\n", "  note: String\n  placedAt: String\n")
        .replace("  CANCELLED\n", "  CANCELLED\n  ON_HOLD\n")
        .replace(
            "  note: String\n",
            '  note: String @deprecated(reason: "Notes moved to the order lines.")\n',
        )
    )
    checked = project.check()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SAFE       Order.placedAt: field added" in checked.stdout
    assert "DANGEROUS  OrderStatus.ON_HOLD: enum value added" in checked.stdout
    assert "SAFE       Order.note: deprecated: Notes moved to the order lines." in checked.stdout
    assert "0 breaking (0 accepted), 1 dangerous, 2 safe change(s)" in checked.stdout
    assert "not up to date" in checked.stdout


def test_accepting_needs_a_reason_and_then_records_and_writes(project: Project) -> None:
    committed = project.schema.read_text()
    project.subgraph.write_text(BASE_SDL.replace("  note: String\n", ""))

    refused = project.check("--accept")
    assert refused.returncode == 2
    assert "--reason" in refused.stderr
    assert project.schema.read_text() == committed
    assert not project.changes.exists()

    accepted = project.check("--accept", "--reason", "Only the retired back office read notes.")
    assert accepted.returncode == 0, accepted.stderr
    assert "note" not in project.schema.read_text()
    assert "note" not in project.supergraph.read_text()
    record = tomllib.loads(project.changes.read_text())
    assert record["accepted"] == [
        {
            "id": "FIELD_REMOVED:Order.note",
            "change": "Order.note: field removed",
            "reason": "Only the retired back office read notes.",
            "accepted_on": record["accepted"][0]["accepted_on"],
        }
    ]
    again = project.check()
    assert again.returncode == 0
    assert "no changes against schema.graphql" in again.stdout


def test_a_change_accepted_in_the_record_passes_before_the_schema_is_rewritten(
    project: Project,
) -> None:
    project.changes.write_text(
        '[[accepted]]\nid = "FIELD_REMOVED:Order.note"\nreason = "Partners were told."\n'
    )
    project.subgraph.write_text(BASE_SDL.replace("  note: String\n", ""))
    checked = project.check()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "BREAKING   Order.note: field removed  (accepted)" in checked.stdout
    assert "1 breaking (1 accepted)" in checked.stdout


def test_an_accepted_change_does_not_accept_another(project: Project) -> None:
    project.changes.write_text(
        '[[accepted]]\nid = "FIELD_REMOVED:Order.note"\nreason = "Partners were told."\n'
    )
    project.subgraph.write_text(BASE_SDL.replace("status: OrderStatus!", "status: String!"))
    assert project.check().returncode == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("accepted = [", "not valid TOML"),
        ('accepted = "all"', "array of tables"),
        ('[[accepted]]\nid = "FIELD_REMOVED:Order.note"\n', "reason must be given"),
        ('[[accepted]]\nreason = "x"\n', "id must be a non-empty string"),
        ("everything = true\n", "unknown key 'everything'"),
    ],
)
def test_a_malformed_record_of_accepted_changes_is_refused(
    project: Project, content: str, message: str
) -> None:
    project.changes.write_text(content)
    checked = project.check()
    assert checked.returncode == 2
    assert message in checked.stderr
    assert "Traceback" not in checked.stderr


def test_a_malformed_committed_schema_is_refused_naming_it(project: Project) -> None:
    project.schema.write_text("type Query { order(: Order }")
    checked = project.check()
    assert checked.returncode == 2
    assert "schema.graphql is not a valid schema" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_a_subgraph_that_does_not_compose_is_reported(project: Project) -> None:
    project.subgraph.write_text(BASE_SDL.replace("status: OrderStatus!", "status: Missing!"))
    checked = project.check()
    assert checked.returncode == 2
    assert "error:" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_an_oversized_committed_schema_is_refused(project: Project) -> None:
    with project.schema.open("w") as output:
        output.write('"""' + "x" * 10_000_001 + '"""\ntype Query { a: Int }\n')
    checked = project.check()
    assert checked.returncode == 2
    assert "larger than" in checked.stderr


def test_an_overlong_or_unprintable_reason_is_refused(project: Project) -> None:
    project.subgraph.write_text(BASE_SDL.replace("  note: String\n", ""))
    for reason in ("x" * 501, "first line\nsecond line"):
        checked = project.check("--accept", "--reason", reason)
        assert checked.returncode == 2, reason
        assert "--reason must be printable" in checked.stderr
    assert not project.changes.exists()


def test_a_large_schema_losing_every_type_is_reported_in_full(project: Project) -> None:
    """An expensive comparison: 3,000 committed types of 10 fields each, all gone."""
    types = "\n".join(
        f"type Extra{n} {{ " + " ".join(f"f{k}: Int" for k in range(10)) + " }" for n in range(3000)
    )
    query = "type Query {\n" + "\n".join(f"  extra{n}: Extra{n}" for n in range(3000)) + "\n}\n"
    project.schema.write_text(project.schema.read_text().replace("type Query {", query[:-2], 1))
    project.schema.write_text(project.schema.read_text() + "\n" + types + "\n")
    checked = project.check()
    assert checked.returncode == 1, checked.stderr[-2000:]
    assert checked.stdout.count(": type removed") == 3000
    assert "BREAKING   Query.extra2999: field removed" in checked.stdout


def test_without_a_committed_schema_only_accept_writes_one(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.subgraph.write_text(BASE_SDL)
    checked = project.check()
    assert checked.returncode == 2
    assert "no committed schema" in checked.stderr
    assert project.check("--accept").returncode == 0
    assert "type Order" in project.schema.read_text()


# -- a contract's schema --------------------------------------------------------------------------

TAGGED_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@tag"])

type Query {
  order(id: ID!): Order @tag(name: "partner")
  audit(id: ID!): String
}

type Order @key(fields: "id") {
  id: ID! @tag(name: "partner")
  status: String! @tag(name: "partner")
  margin: Float
}
"""


@pytest.fixture
def contract_project(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    (tmp_path / "gateway.toml").write_text('[contracts.partner]\ninclude_tags = ["partner"]\n')
    project.commit(TAGGED_SDL)
    assert project.check("--contract", "partner", "--accept").returncode == 0
    return project


def test_the_repository_partner_contract_has_no_unaccepted_breaking_change() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "schema", "check", "--contract", "partner"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no changes against schema.partner.graphql" in completed.stdout


def test_untagging_a_field_breaks_the_contract_but_not_the_api(contract_project: Project) -> None:
    contract_project.subgraph.write_text(
        TAGGED_SDL.replace('status: String! @tag(name: "partner")', "status: String!")
    )
    assert contract_project.check().returncode == 0, "the API schema is unchanged"
    checked = contract_project.check("--contract", "partner")
    assert checked.returncode == 1
    assert "BREAKING   Order.status: field removed" in checked.stdout
    assert "--contract partner --accept" in checked.stderr
    accepted = contract_project.check(
        "--contract", "partner", "--accept", "--reason", "Partners read the status elsewhere now."
    )
    assert accepted.returncode == 0, accepted.stderr
    ids = [entry["id"] for entry in tomllib.loads(contract_project.changes.read_text())["accepted"]]
    assert ids == ["partner/FIELD_REMOVED:Order.status"]
    assert "status" not in (contract_project.directory / "schema.partner.graphql").read_text()


def test_an_api_acceptance_does_not_accept_the_same_change_in_a_contract(
    contract_project: Project,
) -> None:
    contract_project.changes.write_text(
        '[[accepted]]\nid = "FIELD_REMOVED:Order.status"\nreason = "Portals were told."\n'
    )
    contract_project.subgraph.write_text(
        TAGGED_SDL.replace('  status: String! @tag(name: "partner")\n', "")
    )
    assert contract_project.check().returncode == 0
    assert contract_project.check("--contract", "partner").returncode == 1


def test_an_unknown_contract_is_refused(contract_project: Project) -> None:
    checked = contract_project.check("--contract", "nobody")
    assert checked.returncode == 2
    assert "no contract 'nobody' in [contracts] (defined: partner)" in checked.stderr
