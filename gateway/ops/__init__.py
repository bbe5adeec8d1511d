"""The operators' dashboard at `/ops`: a page served by the gateway itself.

- `paths`: its routes; the session cookie counts on these only;
- `routes`: sign-in and sign-out, the page, the JSON snapshot, the SSE stream, the replay;
- `pages`: the HTML, and the script and stylesheet shipped in `static/` (no CDN, no build);
- `snapshot`: what one refresh shows, read from the stores and this process's memory;
- `feed`: one snapshot per refresh shared by every open dashboard, pushed over bounded SSE;
- `history`: the last hour in memory (events applied and their lag, clients' requests);
- `desk`: all of it put together for a running gateway.

The session itself (cookie, CSRF) is a policy: `policies.ops_sessions`.
"""
