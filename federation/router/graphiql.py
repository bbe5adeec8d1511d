"""GraphiQL, the in-browser IDE, as one static page on its own route.

The page holds no data and needs no credential, so it lives apart from the GraphQL endpoint,
which then never has to guess whether a request is a browser. Its scripts and stylesheet come
from unpkg pinned to exact versions with Subresource Integrity (sha384 of the files as the npm
packages ship them), so a changed file is refused by the browser; the Content-Security-Policy
admits those files, the page's one inline script by its hash, and requests to this origin only.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import orjson
from starlette.responses import HTMLResponse


@dataclass(frozen=True, slots=True)
class PinnedAsset:
    """A file of an npm package at an exact version, with the digest the browser must verify."""

    package: str
    version: str
    file: str
    sha384: str

    @property
    def url(self) -> str:
        return f"https://unpkg.com/{self.package}@{self.version}/{self.file}"

    @property
    def integrity(self) -> str:
        return f"sha384-{self.sha384}"


REACT = PinnedAsset(
    "react",
    "18.3.1",
    "umd/react.production.min.js",
    "DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
)
REACT_DOM = PinnedAsset(
    "react-dom",
    "18.3.1",
    "umd/react-dom.production.min.js",
    "gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
)
GRAPHIQL_SCRIPT = PinnedAsset(
    "graphiql",
    "3.8.3",
    "graphiql.min.js",
    "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
)
GRAPHIQL_STYLESHEET = PinnedAsset(
    "graphiql",
    "3.8.3",
    "graphiql.min.css",
    "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
)
SCRIPTS = (REACT, REACT_DOM, GRAPHIQL_SCRIPT)

_BOOT = """
const fetcher = GraphiQL.createFetcher({ url: %s });
ReactDOM.createRoot(document.getElementById("graphiql"))
  .render(React.createElement(GraphiQL, {
    fetcher,
    shouldPersistHeaders: true,
    defaultHeaders: JSON.stringify({ "X-API-Key": "" }, null, 2),
  }));
"""


def _script_tag(asset: PinnedAsset) -> str:
    return (
        f'<script src="{asset.url}" integrity="{asset.integrity}" crossorigin="anonymous"></script>'
    )


def _hash_source(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def graphiql_response(endpoint: str) -> HTMLResponse:
    """The page, talking to the GraphQL endpoint at ``endpoint`` (a path on this origin)."""
    boot = _BOOT % orjson.dumps(endpoint).decode().replace("<", "\\u003c")
    stylesheet = GRAPHIQL_STYLESHEET
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"><title>GraphiQL</title>
<link rel="stylesheet" href="{stylesheet.url}" integrity="{stylesheet.integrity}" \
crossorigin="anonymous" />
</head>
<body style="margin:0;height:100vh">
<div id="graphiql" style="height:100vh"></div>
{"".join(_script_tag(asset) + chr(10) for asset in SCRIPTS)}<script>{boot}</script>
</body>
</html>
"""
    scripts = " ".join(asset.url for asset in SCRIPTS)
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {_hash_source(boot)} {scripts}",
            # GraphiQL's components set inline styles and add style elements at run time.
            f"style-src 'unsafe-inline' {stylesheet.url}",
            "font-src data:",
            "img-src data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return HTMLResponse(
        page,
        headers={
            "content-security-policy": policy,
            "x-frame-options": "DENY",
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        },
    )
