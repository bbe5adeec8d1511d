"""Subgraph transports: HTTP, WebSocket (subscriptions) and in-process, behind small interfaces."""

from federation.router.transports.base import SubgraphRequest, SubscriptionTransport, Transport
from federation.router.transports.http import HttpTransport
from federation.router.transports.inproc import InProcessTransport
from federation.router.transports.websocket import WebSocketTransport

__all__ = [
    "HttpTransport",
    "InProcessTransport",
    "SubgraphRequest",
    "SubscriptionTransport",
    "Transport",
    "WebSocketTransport",
]
