"""What one request may learn beyond its data: decided by the app that serves the router.

Its own module because every transport (HTTP, WebSocket, SSE, multipart) takes the same
options from the embedding app.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.router.caching.settings import CachePartition


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What one request may learn beyond its data, decided by the app that serves the router.

    ``query_plan``: the plan goes in ``extensions`` when the request asks (``X-Query-Plan``);
    otherwise the header is ignored. ``introspection``: ``__schema`` and ``__type`` may be
    queried; otherwise such an operation is refused as invalid. ``cache``: the partition
    the request's answers may be cached and found in (None: neither).
    """

    query_plan: bool = True
    introspection: bool = True
    cache: CachePartition | None = None


DEFAULT_OPTIONS = RequestOptions()
