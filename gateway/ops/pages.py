"""The dashboard's two pages (sign-in, dashboard) and its static files.

Everything the browser loads comes from the gateway: the pages, one script and one
stylesheet shipped in this package (`static/`), no build step and nothing from a CDN. The
pages hold no inline script or style, so their Content-Security-Policy
(`gateway.security_headers.PAGE_POLICY`) allows only the gateway's own files; the script
writes every figure with `textContent` (never as HTML), so a dead letter's reason cannot
become markup. The script and stylesheet hold no secret and are served to anyone: the
sign-in page needs the stylesheet before there is a session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html import escape
from importlib import resources

from starlette.responses import Response

from gateway.security_headers import PAGE_HEADERS
from policies.principal import Principal

STATIC_TYPES = {
    "ops.js": "text/javascript; charset=utf-8",
    "ops.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


def load_static() -> dict[str, StaticFile]:
    """The package's static files, read once when the app is built."""
    folder = resources.files("gateway.ops") / "static"
    files = {}
    for name, media_type in STATIC_TYPES.items():
        body = (folder / name).read_bytes()
        files[name] = StaticFile(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:16]}"')
    return files


def page_headers() -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in PAGE_HEADERS}


def html_response(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={**page_headers(), **(headers or {})},
    )


_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/ops/static/ops.css">
<link rel="icon" href="/ops/static/favicon.svg" type="image/svg+xml">
{extra}</head>
"""


def sign_in_page(message: str | None = None) -> str:
    """A form posting the admin key in the body to /ops/session (never in the URL)."""
    notice = f'<p class="notice" role="alert">{escape(message)}</p>\n' if message else ""
    return (
        _HEAD.format(title="Sign in · logistics gateway operations", extra="")
        + f"""<body class="sign-in">
<main>
<h1>Logistics gateway operations</h1>
{notice}<form method="post" action="/ops/session">
<label for="api-key">Admin API key</label>
<input id="api-key" name="api_key" type="password" autocomplete="current-password" required
 maxlength="8192" autofocus>
<button type="submit">Sign in</button>
</form>
<p class="hint">The key is sent once, in this form's body; the session lasts a few minutes
and is valid on this dashboard only.</p>
</main>
</body>
</html>
"""
    )


def dashboard_page(principal: Principal, csrf_token: str) -> str:
    extra = (
        f'<meta name="ops-csrf" content="{escape(csrf_token)}">\n'
        '<script src="/ops/static/ops.js" defer></script>\n'
    )
    who = f"{principal.client_id} (tenant {principal.tenant_id})"
    return (
        _HEAD.format(title="Operations · logistics gateway", extra=extra)
        + f"""<body>
<header>
<h1>Logistics gateway operations</h1>
<p class="status"><span id="status" data-state="connecting">connecting…</span>
<span id="generated-at"></span> <span id="process"></span></p>
<p class="who">Signed in as {escape(who)}: the admin scope sees every tenant.</p>
<form method="post" action="/ops/session/end" class="sign-out">
<input type="hidden" name="csrf" value="{escape(csrf_token)}">
<button type="submit">Sign out</button>
</form>
</header>
<main>
<section id="health">
<h2>Health <span id="overall" class="badge"></span></h2>
<table><thead><tr><th>Backend</th><th>State</th><th>Breaker</th><th>Failures in a row</th>
<th>Opened</th><th>Fast-failed calls</th><th>Retry in</th></tr></thead>
<tbody id="backends"></tbody></table>
<p id="components"></p>
</section>
<section id="events">
<h2>Events applied, last hour <small>(this process)</small></h2>
<div class="charts">
<figure><figcaption>Events applied per minute</figcaption><div id="throughput-chart"></div>
</figure>
<figure><figcaption>Lag, occurred to applied (max per minute, s)</figcaption>
<div id="lag-chart"></div></figure>
</div>
<table><thead><tr><th>Source</th><th>Applied</th><th>Max lag (s)</th><th>Mean lag, last
minute with events (s)</th></tr></thead><tbody id="event-totals"></tbody></table>
</section>
<section id="dead-letters">
<h2>Dead letters waiting <span id="dead-letter-total" class="badge"></span></h2>
<table><thead><tr><th>Source</th><th>Reason</th><th>Letters</th></tr></thead>
<tbody id="dead-letter-counts"></tbody></table>
<h3>Newest</h3>
<table><thead><tr><th>Received</th><th>Source</th><th>Reason</th><th>Bytes</th>
<th>Replay</th><th>Outcome</th></tr></thead><tbody id="dead-letter-list"></tbody></table>
</section>
<section id="reconciliation">
<h2>Last stock reconciliation</h2>
<p id="reconciliation-summary"></p>
<table><thead><tr><th>Warehouse</th><th>SKU</th><th>ERP</th><th>WMS</th><th>Difference</th>
</tr></thead><tbody id="variances"></tbody></table>
</section>
<section id="workflows">
<h2>Stuck workflows <span id="stuck-total" class="badge"></span></h2>
<p id="workflow-figures"></p>
<table><thead><tr><th>Workflow</th><th>Kind</th><th>State</th><th>Reason</th>
<th>Last moved</th></tr></thead><tbody id="stuck-workflows"></tbody></table>
</section>
<section id="clients">
<h2>Top clients <small>(this process)</small></h2>
<table><thead><tr><th>Client</th><th>Tenant</th><th>Requests/min (5 min)</th>
<th>Requests, last hour</th><th>Rate-limited, last hour</th></tr></thead>
<tbody id="top-clients"></tbody></table>
</section>
</main>
</body>
</html>
"""
    )
