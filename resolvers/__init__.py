"""The built-in subgraphs of the experience API, one module each (each exposes `schema`)."""
