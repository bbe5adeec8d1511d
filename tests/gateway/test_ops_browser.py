"""The ops dashboard in a real browser: Debian's Chromium driven by Playwright against the
gateway served on loopback.

The browser signs in through the form, the page goes live over SSE, and every figure it shows
is checked against the admin JSON routes (`/ready`, `/admin/dead-letters`,
`/admin/reconciliation/variances`, `/admin/workflows`), against what the test itself sent
(requests, rate-limit refusals, an event's lag), and against `/metrics`. A dead letter whose
reason carries markup is shown as text; its Replay button replays it and shows the outcome;
a screenshot is saved.

Without Chromium (`/usr/bin/chromium`, Debian's package) or Playwright the test is skipped,
and fails under CI=true (`.ci/run` installs Chromium). Playwright's own browsers are never
downloaded: it drives the system's Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.ops_support import (
    KEYS,
    ServedOps,
    record_reconciliation,
    record_stuck_workflow,
    served_ops,
    wms_event,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE_TYPE = '<img src=x onerror="document.body.dataset.pwned=1">'
REASON_LENGTH = 80
TIMEOUT_MS = 20_000


def _browser_or_skip() -> Any:
    missing = None
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing = f"Debian's Chromium is not installed ({CHROMIUM}; apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = missing or "Playwright for Python is not installed (pip install playwright)"
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing} (CI=true: the browser test must run)")
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedOps]:
    directory = tmp_path_factory.mktemp("ops-browser")
    with served_ops(directory, refresh_s=0.3) as served:
        served.directory = directory  # type: ignore[attr-defined]
        yield served


def metrics_of(ops: ServedOps) -> dict[str, list[tuple[dict[str, str], float]]]:
    """`/metrics` (admin scope on the gateway's port) as {sample name: [(labels, value)]}."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(f"{ops.url}/metrics", headers=ops.admin())
    assert answer.status_code == 200, answer.text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def metrics_mismatch(ops: ServedOps, shown: dict[str, Any]) -> str | None:
    """What differs between the page's figures and `/metrics`; None when nothing does."""
    metrics = metrics_of(ops)

    def total(name: str, **labels: str) -> float:
        return sum(
            value
            for sample_labels, value in metrics.get(name, [])
            if all(sample_labels.get(key) == want for key, want in labels.items())
        )

    dead = {
        (labels["source"], labels["reason"]): int(value)
        for labels, value in metrics["gateway_dead_letters"]
        if value
    }
    lag_sum = total("gateway_event_lag_seconds_sum", source="WMS", consumer="shipments")
    lag_count = total("gateway_event_lag_seconds_count", source="WMS", consumer="shipments")
    checks = {
        "dead letters": (dead, shown["dead letters"]),
        "stuck": (total("gateway_stuck_workflows"), shown["stuck"]),
        "variances": (total("gateway_reconciliation_variances"), shown["variances"]),
        "requests": (total("gateway_requests_total", client="portal"), shown["requests"]),
        "refused": (
            total("gateway_rate_limited_total", limit="client", client="portal"),
            shown["refused"],
        ),
        "lag": (lag_count == 1 and abs(lag_sum - shown["lag"]) < 2.0, True),
        "breakers": (
            {
                backend: total("gateway_backend_breaker_state", backend=backend, state=breaker)
                for backend, breaker in shown["breakers"].items()
            },
            dict.fromkeys(shown["breakers"], 1.0),
        ),
    }
    for name, (metric, page) in checks.items():
        if metric != page:
            return f"{name}: /metrics says {metric}, the page {page}"
    return None


def dead_letter_counts(page: Any) -> dict[tuple[str, str], int]:
    return {
        (row["source"], row["reason"]): int(row["count"])
        for row in page.eval_on_selector_all(
            "#dead-letter-counts tr[data-source]",
            """rows => rows.map(r => ({source: r.dataset.source, reason: r.dataset.reason,
                count: r.querySelector('[data-figure=count]').textContent}))""",
        )
    }


def label(reason: str) -> str:
    """A reason as the figures name it: one line, at most 80 characters."""
    line = " ".join(reason.split())
    return line if len(line) <= REASON_LENGTH else line[: REASON_LENGTH - 1] + "…"


def test_the_dashboard_shows_the_gateways_figures_and_replays_a_dead_letter(ops: ServedOps):
    sync_playwright = _browser_or_skip()
    # What the page will show: a dead letter whose reason holds markup, an event 2 min late,
    # a reconciliation with variances, a stuck workflow, a client refused by its rate limit.
    hostile = ops.deliver("wms", wms_event(HOSTILE_TYPE))
    assert hostile.status_code == 422, hostile.text
    hostile_id = hostile.json()["dead_letter_id"]
    assert ops.deliver("wms", wms_event("yet.unmapped.type")).status_code == 422
    assert ops.deliver("wms", wms_event(occurred_ago_s=120)).status_code == 202
    run_id = record_reconciliation(
        ops.directory,  # type: ignore[attr-defined]
        [("WH-AMS", "SKU-7", "12", "9"), ("WH-RTM", "SKU-8", "0", "4")],
    )
    started = httpx.post(
        f"{ops.url}/admin/workflows",
        json={"kind": "order-to-ship", "subject": "SO-STUCK-1"},
        headers=ops.admin(),
    )
    assert started.status_code in (200, 201), started.text
    portal = [
        httpx.post(
            f"{ops.url}/graphql", json={"query": "{ __typename }"}, headers=ops.admin("portal")
        ).status_code
        for _ in range(5)
    ]
    assert portal.count(429) == 2, portal
    stuck_id = record_stuck_workflow(ops.directory, "SO-STUCK-2", "C-1002")  # type: ignore[attr-defined]

    screenshot = Path(tempfile.mkdtemp(prefix="ops-dashboard-")) / "dashboard.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.set_default_timeout(TIMEOUT_MS)

            answer = page.goto(f"{ops.url}/ops")
            assert answer is not None and answer.status == 401
            page.fill("#api-key", KEYS["operations"])
            page.click("button[type=submit]")
            page.wait_for_selector("#status[data-state=live]")
            assert page.url == f"{ops.url}/ops"
            assert KEYS["operations"] not in page.url

            # Backends: each breaker as /ready reports it.
            ready = httpx.get(f"{ops.url}/ready").json()
            for name, backend in ready["backends"].items():
                shown = page.text_content(f'tr[data-backend="{name}"] [data-figure=breaker]')
                assert shown == backend["breaker"], (name, shown, backend)

            # Dead letters waiting, by source and reason, as /admin/dead-letters lists them.
            page.wait_for_selector(f'tr[data-letter-id="{hostile_id}"]')
            letters = httpx.get(f"{ops.url}/admin/dead-letters", headers=ops.admin()).json()
            waiting = Counter(
                (letter["source"], label(letter["reason"]))
                for letter in letters["dead_letters"]
                if not (letter["replay_outcome"] or "").startswith("accepted")
            )
            shown_counts = dead_letter_counts(page)
            assert shown_counts == dict(waiting), (shown_counts, waiting)
            assert page.text_content("#dead-letter-total") == str(sum(waiting.values()))

            # The markup in the reason is text, not an element, and no script of it ran.
            reason = page.text_content(f'tr[data-letter-id="{hostile_id}"] [data-figure=reason]')
            assert HOSTILE_TYPE in (reason or ""), reason
            assert page.eval_on_selector_all("main img", "imgs => imgs.length") == 0
            assert page.evaluate("document.body.dataset.pwned") is None

            # The last reconciliation, as /admin/reconciliation/variances answers it.
            reconciliation = httpx.get(
                f"{ops.url}/admin/reconciliation/variances", headers=ops.admin()
            ).json()
            assert reconciliation["run"]["id"] == run_id
            assert page.text_content("#reconciliation [data-figure=variances]") == "2"
            assert page.text_content("#reconciliation [data-figure=compared]") == str(
                reconciliation["run"]["compared"]
            )
            for variance in reconciliation["variances"]:
                row = (
                    f'tr[data-warehouse="{variance["warehouse_id"]}"][data-sku="{variance["sku"]}"]'
                )
                shown = page.text_content(f"{row} [data-figure=difference]")
                assert shown == variance["difference"], (variance, shown)

            # Stuck workflows: the unfinished ones /admin/workflows lists that have not moved
            # for [metrics] stuck_workflow_after_s (an hour); the one just started is not.
            cutoff = datetime.now(UTC) - timedelta(hours=1)
            unfinished = [
                workflow
                for state in ("RUNNING", "WAITING", "COMPENSATING", "HELD")
                for workflow in httpx.get(
                    f"{ops.url}/admin/workflows", params={"state": state}, headers=ops.admin()
                ).json()["workflows"]
            ]
            stuck = {
                w["id"] for w in unfinished if datetime.fromisoformat(w["updated_at"]) < cutoff
            }
            assert stuck == {stuck_id} and started.json()["workflow"]["id"] not in stuck
            page.wait_for_selector(f'tr[data-workflow-id="{stuck_id}"]')
            shown_ids = set(
                page.eval_on_selector_all(
                    "#stuck-workflows tr[data-workflow-id]",
                    "rows => rows.map(r => r.dataset.workflowId)",
                )
            )
            assert shown_ids == stuck, (shown_ids, stuck)

            # Top clients: the portal's 5 requests, 2 of them refused by its 3/minute.
            page.wait_for_function(
                """() => document.querySelector('tr[data-client="portal"] [data-figure=requests]')
                    ?.textContent === '5'"""
            )
            assert page.text_content('tr[data-client="portal"] [data-figure=rejections]') == "2"

            # Events: the WMS event applied, two minutes after it occurred.
            page.wait_for_selector('#event-totals tr[data-source="WMS"]')
            applied = page.text_content('#event-totals tr[data-source="WMS"] [data-figure=applied]')
            lag = page.text_content('#event-totals tr[data-source="WMS"] [data-figure=lag-max]')
            assert int(applied or 0) >= 1 and 119 <= float(lag or 0) < 300, (applied, lag)
            assert page.eval_on_selector_all("#throughput-chart polyline", "l => l.length") >= 1

            # Live: a new dead letter shows up without a reload.
            late = ops.deliver("wms", wms_event("arrived.while.watching")).json()["dead_letter_id"]
            page.wait_for_selector(f'tr[data-letter-id="{late}"]')

            # Replay with the button: nothing maps the type yet, so it is refused again, and the
            # page and the dead letter both say so.
            page.click(f'tr[data-letter-id="{hostile_id}"] button.replay')
            outcome = f'tr[data-letter-id="{hostile_id}"] [data-figure=outcome]'
            page.wait_for_function(
                f"""() => /^422 still_rejected/.test(
                    document.querySelector('{outcome}')?.textContent || '')"""
            )
            kept = {
                letter["id"]: letter
                for letter in httpx.get(
                    f"{ops.url}/admin/dead-letters", headers=ops.admin()
                ).json()["dead_letters"]
            }
            assert (kept[hostile_id]["replay_outcome"] or "").startswith("rejected: unknown WMS")

            # The same figures as /metrics serves them (one read of the stores serves both:
            # the page and the scrape agree once no figure is moving).
            def shown() -> dict[str, Any]:
                return {
                    "dead letters": dead_letter_counts(page),
                    "stuck": int(
                        page.text_content("#workflows [data-figure=stuck-workflows]") or 0
                    ),
                    "variances": int(
                        page.text_content("#reconciliation [data-figure=variances]") or 0
                    ),
                    "requests": int(
                        page.text_content('tr[data-client="portal"] [data-figure=requests]') or 0
                    ),
                    "refused": int(
                        page.text_content('tr[data-client="portal"] [data-figure=rejections]') or 0
                    ),
                    "lag": float(lag or 0),
                    "breakers": {
                        name: page.text_content(f'tr[data-backend="{name}"] [data-figure=breaker]')
                        for name in ready["backends"]
                    },
                }

            deadline = time.monotonic() + 10
            while (mismatch := metrics_mismatch(ops, shown())) and time.monotonic() < deadline:
                page.wait_for_timeout(300)
            assert mismatch is None, mismatch

            page.wait_for_timeout(400)  # one more refresh, so the screenshot shows it all
            page.screenshot(path=str(screenshot), full_page=True)
            violations = [text for text in console if re.search("Content Security Policy", text)]
            assert not violations, violations
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"\ndashboard screenshot: {screenshot}")
