"""Benchmark harness: our router against Apollo Gateway on one three-subgraph supergraph."""
