"""Client transports of subscriptions: graphql-transport-ws, graphql-sse, multipart HTTP.

endpoint = GraphQLWebSocket(router, identify=..., settings=..., shutdown=...)  # ASGI, WS
streams = GraphQLStreams(router, identify=..., settings=..., shutdown=...)
if streams.wants_stream(request.headers): return await streams.handle(request)
"""

from federation.router.streaming.http_streams import GraphQLStreams, requested_framing
from federation.router.streaming.settings import DEFAULT_STREAM_SETTINGS, StreamSettings
from federation.router.streaming.shutdown import ShutdownServer, StreamShutdown
from federation.router.streaming.source import (
    ADMITTED,
    Admission,
    Admit,
    BufferedEventStream,
    EventStream,
    Identify,
    Refusal,
    StreamEvent,
    Subscribe,
    Subscriber,
    open_identify,
)
from federation.router.streaming.websocket import GRAPHQL_TRANSPORT_WS, GraphQLWebSocket

__all__ = [
    "ADMITTED",
    "DEFAULT_STREAM_SETTINGS",
    "GRAPHQL_TRANSPORT_WS",
    "Admission",
    "Admit",
    "BufferedEventStream",
    "EventStream",
    "GraphQLStreams",
    "GraphQLWebSocket",
    "Identify",
    "Refusal",
    "ShutdownServer",
    "StreamEvent",
    "StreamSettings",
    "StreamShutdown",
    "Subscribe",
    "Subscriber",
    "open_identify",
    "requested_framing",
]
