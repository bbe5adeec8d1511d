"""Apollo Federation 2 composition: subgraph SDLs in, supergraph and API schema SDL out.

The supergraph uses the link v1.0 and join v0.3 to v0.5 specifications, in the layout Apollo's
composition writes, so any federation router can load it. The API schema is what clients
see: join and link metadata removed, @inaccessible elements gone.

    from federation.composition import SubgraphSource, compose
    result = compose([SubgraphSource("orders", "http://orders:4001/graphql", sdl), ...])
    result.supergraph_sdl, result.api_schema_sdl

``compose`` raises ``CompositionError``; its ``errors`` lists every problem found, each
naming the subgraph, type and field concerned.

Config file for ``compose_command`` (TOML), one table per subgraph::

    [subgraphs.orders]
    routing_url = "http://localhost:4001/graphql"
    schema = { file = "schemas/orders.graphql" }        # relative to this file

    [subgraphs.inventory]
    routing_url = "inproc:resolvers.inventory:schema"
    schema = { module = "resolvers.inventory:schema" }  # imported, asked for _service.sdl

    [subgraphs.carriers]
    routing_url = "https://carriers.internal/graphql"
    schema.introspect = "https://carriers.internal/graphql"     # POSTs { _service { sdl } }
    schema.headers = { Authorization = "Bearer ..." }           # optional

``routing_url`` is written into the supergraph's ``join__Graph`` enum as is; ``schema``
takes exactly one of ``file``, ``module`` or ``introspect`` (``headers`` optional).
"""

from federation.composition.command import compose_command, compose_from_config, load_sources
from federation.composition.composer import CompositionResult, compose
from federation.composition.errors import CompositionError
from federation.composition.loaders import (
    SdlLoadError,
    fetch_sdl,
    load_sdl_from_file,
    load_sdl_from_module,
)
from federation.composition.sources import SubgraphSource

__all__ = [
    "CompositionError",
    "CompositionResult",
    "SdlLoadError",
    "SubgraphSource",
    "compose",
    "compose_command",
    "compose_from_config",
    "fetch_sdl",
    "load_sdl_from_file",
    "load_sdl_from_module",
    "load_sources",
]
