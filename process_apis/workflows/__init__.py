"""Durable workflows (sagas): the engine, its runner, and the logistics workflows built on it."""
