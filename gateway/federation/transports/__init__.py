"""Subgraph transports: HTTP and in-process, behind one small interface."""

from gateway.federation.transports.base import SubgraphRequest, Transport
from gateway.federation.transports.http import HttpTransport
from gateway.federation.transports.inproc import InProcessTransport

__all__ = ["HttpTransport", "InProcessTransport", "SubgraphRequest", "Transport"]
