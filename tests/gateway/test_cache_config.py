"""`[cache]`: bad values stop the start naming the key; a per-type age needs a real type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from federation.router import Supergraph
from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.runtime import response_caching
from stores.cache import open_cache
from stores.tagged_cache import tagged_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[cache]\nenabled = 'sometimes'\n", "cache.enabled: Input should be a valid boolean"),
        ("[cache]\ndefault_max_age_s = -1\n", "cache.default_max_age_s: Input should be greater"),
        ("[cache]\nstale_if_error_s = 1e9\n", "cache.stale_if_error_s: Input should be"),
        ("[cache]\nmax_entry_bytes = 10\n", "cache.max_entry_bytes: Input should be greater"),
        ("[cache]\nmax_entry_bytes = 99999999999\n", "cache.max_entry_bytes: Input should be less"),
        ("[cache]\ntypes = { Order = -5 }\n", "cache.types.Order: Input should be greater"),
        ("[cache]\ntypes = { 'no such' = 5 }\n", "cache.types: Value error, 'no such' is not a"),
        ("[cache]\nttl = 5\n", "cache.ttl: unknown key"),
        ("[cache]\nmax_memory_bytes = 5\n", "cache.max_memory_bytes: Input should be greater"),
    ],
)
def test_a_bad_cache_value_is_refused_naming_its_key(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(path)


def test_the_environment_turns_caching_on(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LG_CACHE__ENABLED", "true")
    monkeypatch.setenv("LG_CACHE__TYPES", '{"Invoice": 600}')
    config = load_config()
    assert config.cache.enabled and config.cache.types == {"Invoice": 600}


def test_a_per_type_age_for_a_type_the_supergraph_lacks_stops_the_start():
    supergraph = Supergraph.from_sdl((ROOT / "supergraph.graphql").read_text())
    store = tagged_store(open_cache("memory", namespace="config-test"))
    config = GatewayConfig(cache={"enabled": True, "types": {"Ordr": 30}})
    with pytest.raises(ConfigError, match=r"cache\.types\.Ordr: the supergraph has no type"):
        response_caching(config, supergraph, store)
    known = GatewayConfig(cache={"enabled": True, "types": {"Order": 30}})
    caching = response_caching(known, supergraph, store)
    assert caching is not None and caching.settings.type_max_ages == {"Order": 30}
    assert response_caching(GatewayConfig(), supergraph, store) is None
