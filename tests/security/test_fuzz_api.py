"""Property-based fuzzing of the public edges: signed webhooks and the GraphQL API.

Webhooks: for each sender, bodies built from the fields it really sends, each field either a
valid value or a hostile one (lone surrogates, NUL, instants at the ends of the calendar with
any offset, numbers out of range, wrong types, nesting past the decoder's limit), signed as the
sender signs, with fresh timestamps and event ids. Properties: never a 5xx, never an exception
text in the answer, every 202 has its events in the log, every refusal is a 4xx with its body
kept as a dead letter.

GraphQL: hypothesis-graphql writes valid queries from `schema.graphql`, one test per root
field, sent with a valid API key to the app in front of the reference backends. Properties:
never a 5xx, never "Unexpected error." or a traceback, every error carries a code. (It found
`order(id: "")` and `invoice(id: "")` answering "Unexpected error.", now checked arguments.)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import hypothesis_graphql
import pytest
from graphql import build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from gateway.app import create_app
from system_apis.heritage.mapping import STATUS as HERITAGE_CODES
from system_apis.swiftparcel.mapping import STATUS as SWIFT_CODES
from tests.sandbox_processes import Sandbox
from tests.security.conftest import fill_orders_read_model
from tests.security.signed_webhooks import READER_KEY, WebhookApp, gateway_config, webhook_app
from tests.system_apis.x12_samples import Shipment, Status, interchange

__all__ = ["webhook_app"]

LEAK_MARKERS = ("Traceback", "Error:", "Exception", 'File "', "sqlalchemy", "orjson")
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- Values: what a sender should send, and what a hostile or broken one sends ---------------

storable_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=12
)
any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # surrogates included
offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(
    lambda offset: timezone(timedelta(minutes=offset // timedelta(minutes=1)))
)
moments = st.one_of(
    st.datetimes(),
    st.datetimes(max_value=datetime(1, 1, 2)),
    st.datetimes(min_value=datetime(9999, 12, 30)),
)
instants = st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(), moments, offsets)
"""Any day of the calendar with any offset, its two ends often: there UTC may fall outside it."""

DEEP = "\x01deep\x01"
"""Stands for nesting spliced into the encoded body (`encode`), deeper or not than the limit."""

hostile = st.one_of(
    any_text,
    st.sampled_from(["", "\x00", "\ud800", "x\udfff", "A" * 300, DEEP]),
    instants,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def mixed(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the valid value, sometimes a hostile one, so both answers are explored."""
    return st.sampled_from([True] * 7 + [False]).flatmap(lambda keep: valid if keep else hostile)


def fresh_id() -> st.SearchStrategy[str]:
    return st.builds(lambda: uuid.uuid4().hex)


def encode(value: object, depth: int) -> bytes:
    """JSON as a careless sender writes it: lone surrogates escaped, NaN and Infinity bare."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=True)
    return text.replace(json.dumps(DEEP), "[" * depth + "]" * depth).encode()


depths = st.sampled_from([3, 40, 1500])

counts = st.integers(0, 10_000)
dispatched = st.fixed_dictionaries(
    {
        "order_ref": mixed(storable_text),
        "tracking_number": mixed(storable_text),
        "carrier": mixed(storable_text),
    }
)
adjusted = st.fixed_dictionaries(
    {
        "sku": mixed(storable_text),
        "warehouse": mixed(storable_text),
        "bin": mixed(storable_text),
        "uom": mixed(st.sampled_from(["EA", "CS", "PL"])),
        **{name: mixed(counts) for name in ("on_hand", "allocated", "in_transit", "quarantine")},
        "returned": mixed(counts),
        "delta": mixed(st.integers(-100, 100)),
    },
    optional={"updated": mixed(instants)},
)


def wms_delivery(event_type: str, data: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "type": mixed(st.just(event_type)),
            "event_id": mixed(fresh_id()),
            "occurred_at": mixed(instants),
            "data": mixed(data),
        }
    )


wms_bodies = st.builds(
    encode,
    st.one_of(
        wms_delivery("shipment.dispatched", dispatched),
        wms_delivery("inventory.adjusted", adjusted),
    ),
    depths,
)

swift_events = st.fixed_dictionaries(
    {"code": mixed(st.sampled_from(sorted(SWIFT_CODES))), "timestamp": mixed(instants)},
    optional={
        "id": mixed(fresh_id()),
        "description": mixed(storable_text),
        "reason": mixed(storable_text),
        "location": mixed(
            st.fixed_dictionaries(
                {},
                optional={
                    "city": mixed(storable_text),
                    "region": mixed(storable_text),
                    "country": mixed(st.sampled_from(["US", "NL", "DE"])),
                },
            )
        ),
    },
)
swift_bodies = st.builds(
    encode,
    st.fixed_dictionaries(
        {
            "trackingNumber": mixed(fresh_id().map(lambda hex: f"SP{hex[:12]}")),
            "event": mixed(swift_events),
        }
    ),
    depths,
)

x12_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
days = st.one_of(st.dates(), st.sampled_from([date(1, 1, 1), date(9999, 12, 31)]))


def x12_mixed(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """An element as the carrier writes it, or any text (delimiters and NUL included)."""
    return st.sampled_from([True] * 3 + [False]).flatmap(lambda keep: valid if keep else x12_text)


x12_statuses = st.builds(
    Status,
    code=x12_mixed(st.sampled_from(sorted(HERITAGE_CODES))),
    reason=st.sampled_from(["NS", "A1", ""]),
    date=x12_mixed(days.map(lambda day: f"{day.year:04d}{day.month:02d}{day.day:02d}")),
    time=x12_mixed(st.times().map(lambda clock: clock.strftime("%H%M"))),
    time_code=st.sampled_from(["CT", "ET", "PT", "UT", "LT", "ZZ"]),
    city=st.one_of(st.none(), x12_mixed(storable_text)),
)
x12_bodies = st.builds(
    lambda tracking_number, statuses: interchange(
        [Shipment(tracking_number=tracking_number, loops=(tuple(statuses),))],
        control=time.time_ns() % 999_999_999 + 1,
    ).encode(),
    x12_mixed(fresh_id().map(lambda hex: f"HF{hex[:10]}")),
    st.lists(x12_statuses, min_size=1, max_size=3),
)

BODIES = {"wms": wms_bodies, "swiftparcel": swift_bodies, "heritage": x12_bodies}


def assert_answered_properly(app: WebhookApp, source: str, body: bytes) -> int:
    answer = app.deliver(source, body)
    status = answer.status_code
    assert status < 500, f"{status} for {body[:300]!r}: {answer.text[:300]}"
    assert not any(marker in answer.text for marker in LEAK_MARKERS), answer.text[:500]
    if status == 202:
        assert app.in_event_log(source, body), f"202 but not in the log: {body[:300]!r}"
    else:
        assert 400 <= status < 500, answer.text
        letter = answer.json().get("dead_letter_id")
        assert letter and app.has_dead_letter(source, letter), f"no dead letter: {answer.text}"
    return status


@pytest.mark.parametrize("source", sorted(BODIES))
def test_signed_webhooks_are_accepted_or_refused_with_a_dead_letter_never_a_5xx(
    webhook_app: WebhookApp, source: str
) -> None:
    seen: dict[int, int] = {}

    @FUZZ
    @given(body=BODIES[source])
    def deliver(body: bytes) -> None:
        status = assert_answered_properly(webhook_app, source, body)
        seen[status] = seen.get(status, 0) + 1

    deliver()
    assert 202 in seen and any(400 <= status < 500 for status in seen), (
        f"the strategies explored only {seen}: both outcomes must be reached"
    )


# --- GraphQL --------------------------------------------------------------------------------

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())


@pytest.fixture(scope="module")
def graphql_client(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    database = tmp_path_factory.mktemp("graphql") / "gateway.sqlite3"
    config = gateway_config(f"sqlite+aiosqlite:///{database}", "sql", backends=sandbox.urls())
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        fill_orders_read_model(client)
        yield client


@pytest.mark.sandbox
@pytest.mark.parametrize("root_field", sorted(SCHEMA.query_type.fields))
def test_generated_queries_get_no_5xx_and_only_coded_errors(
    graphql_client: TestClient, root_field: str
) -> None:
    @FUZZ
    @given(query=hypothesis_graphql.queries(SCHEMA, fields=[root_field]))
    def ask(query: str) -> None:
        answer = graphql_client.post(
            "/graphql", json={"query": query}, headers={"x-api-key": READER_KEY}
        )
        assert answer.status_code < 500, f"{answer.status_code} for {query}: {answer.text[:300]}"
        assert "Unexpected error." not in answer.text, f"{query}\n{answer.text[:500]}"
        assert not any(marker in answer.text for marker in LEAK_MARKERS), answer.text[:500]
        for error in answer.json().get("errors") or []:
            assert (error.get("extensions") or {}).get("code"), f"{query}: {error} has no code"

    ask()
