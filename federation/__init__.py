"""The generic Apollo Federation v2 engine: the router and composition.

It serves any supergraph and knows nothing of logistics; the product's layers sit above it
and reach it through configuration (subgraph locations) and its public modules.
"""
