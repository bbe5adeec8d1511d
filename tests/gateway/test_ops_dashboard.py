"""The ops dashboard's routes over real HTTP: who may sign in and read, the session cookie and
its CSRF checks, hostile inputs, what the snapshot counts, and how its SSE stream is bounded.

One app for the module (uvicorn on loopback, SQLite, rate limits on); tests that depend on
counts read them as differences or wait for them, since the app keeps running between tests.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import ConfigError, load_config
from gateway.ops_config import DEVELOPMENT_OPS_SESSION_KEY
from policies.authn import ApiKeyRegistry
from policies.ops_sessions import COOKIE_NAME, OpsSessions
from tests.gateway.ops_support import (
    KEYS,
    ServedOps,
    ops_config,
    record_reconciliation,
    record_stuck_workflow,
    served_ops,
    wms_event,
)

CSRF_REFUSED = "csrf"


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedOps]:
    directory = tmp_path_factory.mktemp("ops")
    with served_ops(directory) as served:
        served.directory = directory  # type: ignore[attr-defined]
        yield served


def test_anonymous_callers_meet_the_sign_in_form_and_401s(ops: ServedOps):
    page = httpx.get(f"{ops.url}/ops")
    assert page.status_code == 401
    assert '<form method="post" action="/ops/session">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
    assert "frame-ancestors 'none'" in policy and page.headers["x-frame-options"] == "DENY"
    for method, path in (
        ("GET", "/ops/snapshot"),
        ("GET", "/ops/stream"),
        ("POST", f"/ops/dead-letters/dl_{'0' * 32}/replay"),
    ):
        answer = httpx.request(method, f"{ops.url}{path}", headers=ops.origin())
        assert answer.status_code == 401, (path, answer.text)
        assert answer.json()["error"] == "unauthenticated", answer.text
    # The script and stylesheet hold nothing secret (the sign-in page needs the stylesheet).
    script = httpx.get(f"{ops.url}/ops/static/ops.js")
    assert script.status_code == 200 and "EventSource" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


def test_the_key_is_never_taken_from_a_url(ops: ServedOps):
    answer = httpx.get(f"{ops.url}/ops", params={"api_key": KEYS["operations"]})
    assert answer.status_code == 400 and "unknown parameter 'api_key'" in answer.text
    assert "set-cookie" not in answer.headers
    posted = httpx.post(
        f"{ops.url}/ops/session", params={"api_key": KEYS["operations"]}, headers=ops.origin()
    )
    assert posted.status_code == 415 and "set-cookie" not in posted.headers


def test_a_client_without_the_admin_scope_can_neither_sign_in_nor_read(ops: ServedOps):
    refused = httpx.post(
        f"{ops.url}/ops/session", data={"api_key": KEYS["portal"]}, headers=ops.origin()
    )
    assert refused.status_code == 403 and "lacks the admin scope" in refused.text
    assert "set-cookie" not in refused.headers
    for path in ("/ops/snapshot", "/ops/stream"):
        answer = httpx.get(f"{ops.url}{path}", headers={"X-API-Key": KEYS["portal"]})
        assert answer.status_code in (403, 429), answer.text  # the portal's quota is tiny
    wrong = httpx.post(
        f"{ops.url}/ops/session", data={"api_key": "not-a-key-at-all"}, headers=ops.origin()
    )
    assert wrong.status_code == 401 and "invalid API key" in wrong.text


def test_an_admin_gets_a_locked_down_cookie_that_opens_the_dashboard_only(ops: ServedOps):
    answer = httpx.post(
        f"{ops.url}/ops/session", data={"api_key": KEYS["operations"]}, headers=ops.origin()
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ops"
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes, cookie
    assert "SameSite=Strict" in cookie and "Path=/ops" in cookie
    assert "secure" not in attributes, "plain HTTP: a Secure cookie would never come back"
    assert KEYS["operations"] not in cookie
    session = {COOKIE_NAME: answer.cookies[COOKIE_NAME]}
    page = httpx.get(f"{ops.url}/ops", cookies=session)
    assert page.status_code == 200 and 'name="ops-csrf"' in page.text
    assert "operations (tenant C-1001)" in page.text
    # The cookie is no credential for the API.
    for path in ("/admin/dead-letters", "/admin/workflows"):
        assert httpx.get(f"{ops.url}{path}", cookies=session).status_code == 401
    graphql = httpx.post(f"{ops.url}/graphql", json={"query": "{ __typename }"}, cookies=session)
    assert graphql.status_code == 401


def test_another_tenants_admin_sees_the_same_operator_wide_view(ops: ServedOps):
    """The admin scope belongs to the operators, not to a tenant: the dashboard shows every
    tenant's dead letters and workflows to any admin client, whichever tenant it names."""
    letter = ops.deliver("wms", wms_event("tenant.neutral.type")).json()["dead_letter_id"]
    workflow = record_stuck_workflow(ops.directory, "SO-OPS-TENANT", "C-1001")  # type: ignore[attr-defined]

    def sees_both(snapshot: dict) -> bool:
        letters = {entry["id"] for entry in snapshot["dead_letters"]["recent"]}
        stuck = {entry["id"] for entry in snapshot["workflows"]["stuck"]}
        return letter in letters and workflow in stuck

    with ops.signed_in("operations-c1002") as other:
        page = other.get("/ops")
        assert page.status_code == 200 and "operations-c1002 (tenant C-1002)" in page.text
        deadline = time.monotonic() + 20
        while not sees_both(other.get("/ops/snapshot").json()):
            assert time.monotonic() < deadline, "the other tenant's admin never saw them"
            time.sleep(0.2)


def test_forged_tampered_expired_and_oversized_sessions_are_refused(ops: ServedOps):
    with ops.signed_in() as http:
        genuine = http.cookies[COOKIE_NAME]
    header, payload, signature = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "operations-c1002"
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    tampered = f"{header}.{tampered_payload.decode()}.{signature}"

    registry = ApiKeyRegistry(())
    other_key = OpsSessions(registry, None, "x" * 40, ttl_s=60, routes=())
    forged = _sign(other_key, claims)
    expired_claims = {**json.loads(base64.urlsafe_b64decode(payload + "==")), "exp": 1}
    expired = _sign(
        OpsSessions(registry, None, DEVELOPMENT_OPS_SESSION_KEY, ttl_s=60, routes=()),
        expired_claims,
    )
    for name, value in (
        ("tampered", tampered),
        ("forged", forged),
        ("expired", expired),
        ("oversized", genuine + "A" * 5000),
        ("garbage", "not.a.token"),
    ):
        answer = httpx.get(f"{ops.url}/ops/snapshot", cookies={COOKIE_NAME: value})
        assert answer.status_code == 401, (name, answer.text)
    assert httpx.get(f"{ops.url}/ops/snapshot", cookies={COOKIE_NAME: genuine}).status_code == 200


def _sign(sessions: OpsSessions, claims: dict) -> str:
    return sessions._jwt.encode({"alg": "HS256"}, claims, sessions._key).decode()


def test_a_revoked_issued_key_ends_its_session_at_once(ops: ServedOps):
    issued = httpx.post(
        f"{ops.url}/admin/keys",
        json={"client": "night-shift", "scopes": ["read", "admin"]},
        headers=ops.admin(),
    )
    assert issued.status_code == 201, issued.text
    key, key_id = issued.json()["api_key"], issued.json()["key_id"]
    http = httpx.Client(base_url=ops.url, timeout=10.0)
    signed_in = http.post("/ops/session", data={"api_key": key}, headers=ops.origin())
    assert signed_in.status_code == 303, signed_in.text
    assert http.get("/ops/snapshot").status_code == 200
    revoked = httpx.delete(f"{ops.url}/admin/keys/{key_id}", headers=ops.admin())
    assert revoked.status_code == 200, revoked.text
    assert http.get("/ops/snapshot").status_code == 401
    assert http.get("/ops").status_code == 401
    http.close()


def test_changes_need_the_pages_origin_and_its_csrf_token(ops: ServedOps):
    letter = ops.deliver("wms", wms_event("csrf.check.type")).json()["dead_letter_id"]
    path = f"/ops/dead-letters/{letter}/replay"
    with ops.signed_in() as http:
        token = ops.csrf_token(http)
        attempts = {
            "no token": {"Origin": ops.url},
            "wrong token": {"Origin": ops.url, "X-CSRF-Token": token[::-1]},
            "other origin": {"Origin": "http://evil.example", "X-CSRF-Token": token},
            "no origin": {"X-CSRF-Token": token},
        }
        for name, headers in attempts.items():
            answer = http.post(path, headers=headers)
            assert answer.status_code == 403, (name, answer.text)
            assert answer.json()["error"] == CSRF_REFUSED, (name, answer.text)
        replayed = http.post(path, headers={"Origin": ops.url, "X-CSRF-Token": token})
        assert replayed.status_code == 422 and replayed.json()["error"] == "still_rejected"
        # Signing in from another site's page, and signing out without the token, are refused.
        cross = httpx.post(
            f"{ops.url}/ops/session",
            data={"api_key": KEYS["operations"]},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403 and "set-cookie" not in cross.headers
        assert http.post("/ops/session/end", headers={"Origin": ops.url}).status_code == 403
        ended = http.post("/ops/session/end", data={"csrf": token}, headers={"Origin": ops.url})
        assert ended.status_code == 303 and "Max-Age=0" in ended.headers["set-cookie"]
    # A presented admin key needs no token: it is no ambient credential.
    direct = httpx.post(f"{ops.url}{path}", headers=ops.admin())
    assert direct.status_code == 422, direct.text


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"api_key=" + b"k" * 11_000, "application/x-www-form-urlencoded", 413),
        (b'{"api_key": "x"}', "application/json", 415),
        (b"", "application/x-www-form-urlencoded", 400),
        (b"user=admin", "application/x-www-form-urlencoded", 400),
        (b"api_key=a&api_key=b", "application/x-www-form-urlencoded", 400),
        (b"api_key=%ff%fe", "application/x-www-form-urlencoded", 400),
        (b"api_key=" + b"k" * 9000, "application/x-www-form-urlencoded", 401),
    ],
    ids=["oversized", "json", "empty", "no key", "two keys", "not utf-8", "long key"],
)
def test_a_malformed_or_oversized_sign_in_is_refused_with_the_reason(
    ops: ServedOps, body: bytes, content_type: str, status: int
):
    answer = httpx.post(
        f"{ops.url}/ops/session",
        content=body,
        headers={"Origin": ops.url, "content-type": content_type},
    )
    assert answer.status_code == status, answer.text
    assert "set-cookie" not in answer.headers
    assert answer.headers["content-security-policy"]


def test_malformed_ids_names_and_parameters_are_refused(ops: ServedOps):
    admin = ops.admin()
    for path, status in (
        ("/ops/dead-letters/not-an-id/replay", 400),
        (f"/ops/dead-letters/dl_{'a' * 500}/replay", 400),
        (f"/ops/dead-letters/dl_{'0' * 32}/replay", 404),
    ):
        answer = httpx.post(f"{ops.url}{path}", headers=admin)
        assert answer.status_code == status, (path, answer.text)
    assert httpx.get(f"{ops.url}/ops/snapshot?x=1", headers=admin).status_code == 400
    for name in ("pages.py", "ops.js.map", "..%2Fpages.py"):
        answer = httpx.get(f"{ops.url}/ops/static/{name}")
        # A name with a slash matches no route: an unknown path, which needs a credential.
        assert answer.status_code in (404, 401) and "import" not in answer.text, name


def test_guessing_keys_at_the_sign_in_is_throttled_per_address(ops: ServedOps):
    transport = httpx.HTTPTransport(local_address="127.0.0.7")
    with httpx.Client(base_url=ops.url, transport=transport, timeout=10.0) as guesser:
        statuses = [
            guesser.post(
                "/ops/session", data={"api_key": f"guess-{n}"}, headers=ops.origin()
            ).status_code
            for n in range(21)
        ]
        assert statuses[:20] == [401] * 20 and statuses[20] == 429, statuses
        right = guesser.post(
            "/ops/session", data={"api_key": KEYS["operations"]}, headers=ops.origin()
        )
        assert right.status_code == 429, "refused before the key is even looked at"


def test_top_clients_show_requests_and_rate_limit_rejections(ops: ServedOps):
    before = _client(ops.snapshot(), "portal")
    statuses = [
        httpx.post(
            f"{ops.url}/graphql", json={"query": "{ __typename }"}, headers=ops.admin("portal")
        ).status_code
        for _ in range(5)
    ]
    assert statuses.count(429) >= 2, statuses
    rejected = statuses.count(429)

    def counted(snapshot: dict) -> bool:
        now = _client(snapshot, "portal")
        return now["requests_last_hour"] - before["requests_last_hour"] == 5

    portal = _client(ops.snapshot(until=counted), "portal")
    assert portal["requests_last_hour"] - before["requests_last_hour"] == 5, portal
    assert portal["rejections_last_hour"] - before["rejections_last_hour"] == rejected, portal
    assert portal["tenant_id"] == "C-1001" and portal["per_minute"] > 0


def _client(snapshot: dict, client_id: str) -> dict:
    for entry in snapshot["clients"]:
        if entry["client_id"] == client_id:
            return entry
    return {"requests_last_hour": 0, "rejections_last_hour": 0}


def test_events_applied_show_their_source_and_lag(ops: ServedOps):
    before = ops.snapshot()["events"]["sources"].get("WMS", {}).get("applied_last_hour", 0)
    accepted = ops.deliver("wms", wms_event(occurred_ago_s=120))
    assert accepted.status_code == 202, accepted.text

    def applied(snapshot: dict) -> bool:
        wms = snapshot["events"]["sources"].get("WMS")
        return wms is not None and wms["applied_last_hour"] > before

    wms = ops.snapshot(until=applied)["events"]["sources"]["WMS"]
    assert wms["applied_last_hour"] == before + 1, wms
    assert 119 <= wms["lag_max_last_hour_s"] < 300, wms
    # Applied this minute, or in the one before when the snapshot was taken just past its end.
    assert len(wms["applied"]) == 60 and sum(wms["applied"][-2:]) >= 1, wms["applied"][-2:]


def test_the_snapshot_shows_the_last_reconciliation_as_the_admin_route_does(ops: ServedOps):
    run_id = record_reconciliation(
        ops.directory,  # type: ignore[attr-defined]
        [
            ("WH-AMS", "SKU-1", "10", "7"),
            ("WH-AMS", "SKU-2", "1", "2"),
            ("WH-RTM", "SKU-1", "5", "0"),
        ],
    )
    admin = httpx.get(f"{ops.url}/admin/reconciliation/variances", headers=ops.admin()).json()
    snapshot = ops.snapshot(until=lambda s: (s["reconciliation"]["run"] or {}).get("id") == run_id)
    assert snapshot["reconciliation"]["run"] == admin["run"]
    assert snapshot["reconciliation"]["variances"] == admin["variances"]
    figure = snapshot["figures"]["reconciliation"]
    assert figure["variances"] == 3 and figure["by_warehouse"] == {"WH-AMS": 2, "WH-RTM": 1}


def test_dashboards_per_process_are_capped(ops: ServedOps):
    with ops.signed_in() as http:
        streams = [http.stream("GET", "/ops/stream") for _ in range(3)]
        opened = [stream.__enter__() for stream in streams]
        try:
            assert all(answer.status_code == 200 for answer in opened)
            refused = http.get("/ops/stream")
            assert refused.status_code == 503 and refused.headers["retry-after"] == "10"
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
        deadline = time.monotonic() + 10
        while ops.snapshot()["streams"]["open"] > 0:
            assert time.monotonic() < deadline, "closed dashboards were never let go"
            time.sleep(0.1)


def test_the_dashboard_can_be_turned_off_and_bad_settings_name_their_key(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    for setting, value in (
        ("session_signing_key", '"too-short"'),
        ("refresh_s", "0"),
        ("max_streams", "100000"),
    ):
        config.write_text(f"[ops]\n{setting} = {value}\n")
        with pytest.raises(ConfigError, match=rf"ops\.{setting}"):
            load_config(config)
    off = ops_config(tmp_path, enabled=False)
    with TestClient(create_app(off)) as client:
        admin = {"X-API-Key": KEYS["operations"]}
        assert client.get("/ops", headers=admin).status_code == 404
        assert client.get("/ops/static/ops.js").status_code == 401
        signing_in = client.post("/ops/session", data={"api_key": KEYS["operations"]})
        assert signing_in.status_code == 401 and "set-cookie" not in signing_in.headers


def test_a_session_signed_in_on_one_process_opens_the_dashboard_on_another(
    ops: ServedOps, tmp_path: Path
):
    """Processes of one deployment share `[ops] session_signing_key` and the clients, so the
    balancer may send the browser's next request to any of them; one with another key
    refuses the cookie."""
    with ops.signed_in() as http:
        cookie = http.cookies[COOKIE_NAME]
    with TestClient(create_app(ops_config(tmp_path / "same"))) as replica:
        assert replica.get("/ops/snapshot", cookies={COOKIE_NAME: cookie}).status_code == 200
    other_key = ops_config(tmp_path / "other", session_signing_key="k" * 40)
    with TestClient(create_app(other_key)) as stranger:
        assert stranger.get("/ops/snapshot", cookies={COOKIE_NAME: cookie}).status_code == 401
