"""Subgraph transports: HTTP and in-process, behind one small interface."""

from federation.router.transports.base import SubgraphRequest, Transport
from federation.router.transports.http import HttpTransport
from federation.router.transports.inproc import InProcessTransport

__all__ = ["HttpTransport", "InProcessTransport", "SubgraphRequest", "Transport"]
