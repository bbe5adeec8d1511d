"""Configuration: embedded defaults run as they are; a bad key fails naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ERP_REQUESTS_PER_S, ConfigError, GatewayConfig, load_config
from gateway.runtime import backend_settings
from system_apis.settings import BackendSettings


def test_embedded_defaults_need_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.server.port == 8000
    assert config.backends.erp.url == "http://127.0.0.1:8101"
    assert config.subgraphs["orders"].url == "inproc:resolvers.orders:schema"
    assert config.polling.enabled and config.polling.interval_s == 15.0
    assert config.polling.max_batches_per_round == 20


def test_file_values_keep_the_other_defaults_and_environment_overrides_the_file(
    tmp_path: Path, monkeypatch
):
    path = tmp_path / "gateway.toml"
    path.write_text("[backends.erp]\ntimeout_s = 0.5\n[server]\nport = 9100\n")
    monkeypatch.setenv("LG_SERVER__PORT", "9200")
    config = load_config(path)
    assert config.backends.erp.timeout_s == 0.5
    assert config.backends.erp.url == "http://127.0.0.1:8101"
    assert config.server.port == 9200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nport = 'abc'\n", "server.port: Input should be a valid integer"),
        ("[backends.erp]\ntimeout = 3\n", "backends.erp.timeout: unknown key"),
        ("[backends.tms]\nurl = 'ftp://x'\n", "backends.tms.url: Value error, must be an http"),
        ("[stores]\ncache = 'memcached://x'\n", "stores.cache: Value error, must be 'memory'"),
        ("[subgraphs.orders]\nurl = 'inproc:resolvers'\n", "subgraphs.orders.url: Value error"),
        ("[polling]\ninterval_s = 0\n", "polling.interval_s: Input should be greater than 0"),
        ("[polling]\nmax_batches_per_round = 0\n", "polling.max_batches_per_round: Input"),
        ("[polling]\nevery = 5\n", "polling.every: unknown key"),
        ("[stores]\nevent_stream = 'a.b'\n", "stores.event_stream: Value error, must be 1 to"),
        ("[stores]\nevent_stream = ''\n", "stores.event_stream: Value error"),
        (f"[stores]\nevent_stream = '{'S' * 65}'\n", "stores.event_stream: Value error"),
        ("[stores]\nevent_subject_prefix = 'acme.>'\n", "stores.event_subject_prefix: Value"),
        ("[stores]\nevent_subject_prefix = 'acme..x'\n", "stores.event_subject_prefix: Value"),
        ("[stores]\nevent_subject_prefix = 'a.*'\n", "no wildcards"),
        ("[stores]\nevent_subject_prefix = 'a b'\n", "stores.event_subject_prefix: Value"),
        ("[stores]\ncache_namespace = 'acme gw'\n", "stores.cache_namespace: Value error"),
        (f"[stores]\ncache_namespace = '{'n' * 65}'\n", "stores.cache_namespace: Value error"),
        ("[stores]\ncache_namespace = 42\n", "stores.cache_namespace: Input should be"),
        ("[polling]\nlease_ttl_s = 0\n", "polling.lease_ttl_s: Input should be greater than 0"),
        ("[polling]\nlease_ttl_s = 3600\n", "polling.lease_ttl_s: Input should be less than"),
        ("[polling]\nerp_orders_interval_s = 0\n", "polling.erp_orders_interval_s: Input"),
        ("[polling]\nerp_orders_interval_s = 301\n", "polling.erp_orders_interval_s: Input"),
        ("[idempotency]\npurge_interval_s = 0\n", "idempotency.purge_interval_s: Input should be"),
        ("[throttling]\nwhen_storage_unreachable = 'deny'\n", "when_storage_unreachable: Input"),
        ("[idempotency]\npurge_interval_s = 1e9\n", "idempotency.purge_interval_s: Input should"),
        ("[idempotency]\npurge_interval_s = 'hourly'\n", "idempotency.purge_interval_s: Input"),
        ("[polling]\nerp_orders_interval_s = '5s'\n", "polling.erp_orders_interval_s: Input"),
        ("[polling]\nerp_orders_interval_s = 0.01\n", "erp_orders_interval_s: Input should be"),
        (
            "[polling]\ninterval_s = 150\n",
            "freshness.tms_window_s (120) must be longer than polling.interval_s (150)",
        ),
        (
            "[freshness]\nerp_window_s = 5\n",
            "freshness.erp_window_s (5) must be longer than polling.erp_orders_interval_s (5)",
        ),
        ("[freshness]\nerp_window_s = 0\n", "freshness.erp_window_s: Input should be greater"),
        ("[freshness]\ntms_window_s = -5\n", "freshness.tms_window_s: Input should be greater"),
        ("[freshness]\nwms_window_s = 700000\n", "freshness.wms_window_s: Input should be less"),
        ("[freshness]\nroadline_window_s = 'soon'\n", "freshness.roadline_window_s: Input"),
        ("[freshness]\nheritage_window_s = nan\n", "freshness.heritage_window_s: Input"),
        ("[freshness]\nmainframe_window_s = 5\n", "freshness.mainframe_window_s: unknown key"),
        ("[freshness]\nerp = 5\n", "freshness.erp: unknown key"),
        ("freshness = 5\n", "freshness: Input should be"),
        ("[bogus]\nx = 1\n", "bogus: unknown key"),
        ("[server\n", "not valid TOML"),
        (
            f"[clients.app]\ntenant = 'C-1'\napi_key_sha256 = '{'a' * 64}'\n"
            "scopes = ['warehouse']\n",
            "clients.app: Value error, the warehouse scope needs warehouses",
        ),
        (
            f"[clients.app]\ntenant = 'C-1'\napi_key_sha256 = '{'a' * 64}'\n"
            "warehouses = ['WH-AMS']\n",
            "clients.app: Value error, warehouses are given without the warehouse scope",
        ),
        (
            f"[clients.app]\ntenant = 'C-1'\napi_key_sha256 = '{'a' * 64}'\n"
            "scopes = ['warehouse']\nwarehouses = ['WH AMS']\n",
            "clients.app.warehouses.0: String should match pattern",
        ),
        (
            f"[clients.app]\ntenant = 'C-1'\napi_key_sha256 = '{'a' * 64}'\n"
            f"scopes = ['warehouse']\nwarehouses = ['{'W' * 65}']\n",
            "clients.app.warehouses.0: String should match pattern",
        ),
        ("[idempotency]\nttl_s = 1\n", "idempotency.ttl_s: Input should be greater than"),
        (
            f"[clients.app]\ntenant = 'C-1'\napi_key_sha256 = '{'a' * 64}'\nplan = 'gold'\n",
            "clients.app.plan names 'gold', which [plans] does not define "
            "(defined: basic, premium, standard)",
        ),
        ("[plans.gold]\nprice = 5\n", "plans.gold.price: unknown key"),
        (
            "[subscriptions]\nwebsocket_compression = 'maybe'\n",
            "subscriptions.websocket_compression: Input should be a valid boolean",
        ),
        (f"[plans.gold]\ndescription = '{'x' * 201}'\n", "plans.gold.description: String"),
        (
            "[subscriptions]\ncredential_check_interval_s = 0\n",
            "subscriptions.credential_check_interval_s: Input should be greater than or equal "
            "to 0.1",
        ),
        (
            "[subscriptions]\ncredential_check_interval_s = 7200\n",
            "subscriptions.credential_check_interval_s: Input should be less than or equal to 3600",
        ),
        (
            "[subscriptions]\ncredential_check_interval_s = nan\n",
            "subscriptions.credential_check_interval_s: Input should be a finite number",
        ),
        (
            "[subscriptions]\ncredential_check_interval_s = '30s'\n",
            "subscriptions.credential_check_interval_s: Input should be a valid number",
        ),
        (
            "[subscriptions]\ncredential_check_interval_s = true\n",
            "subscriptions.credential_check_interval_s: must be a number of seconds (0.1 to "
            "3600), not true or false",
        ),
    ],
)
def test_a_bad_key_fails_at_start_naming_the_key(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert expected in str(raised.value)


def test_websocket_compression_is_off_unless_turned_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config().subscriptions.websocket_compression is False
    path = tmp_path / "gateway.toml"
    path.write_text("[subscriptions]\nwebsocket_compression = true\n")
    assert load_config(path).subscriptions.websocket_compression is True
    monkeypatch.setenv("LG_SUBSCRIPTIONS__WEBSOCKET_COMPRESSION", "false")
    assert load_config(path).subscriptions.websocket_compression is False


def test_live_credentials_are_judged_again_every_30_s_unless_configured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config().subscriptions.credential_check_interval_s == 30.0
    path = tmp_path / "gateway.toml"
    path.write_text("[subscriptions]\ncredential_check_interval_s = 0.5\n")
    assert load_config(path).subscriptions.credential_check_interval_s == 0.5
    monkeypatch.setenv("LG_SUBSCRIPTIONS__CREDENTIAL_CHECK_INTERVAL_S", "12")
    assert load_config(path).subscriptions.credential_check_interval_s == 12.0


def test_a_bad_environment_override_names_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LG_BACKENDS__WMS__TIMEOUT_S", "-1")
    with pytest.raises(ConfigError, match=r"backends\.wms\.timeout_s: Input should be greater"):
        load_config()


def test_a_window_shorter_than_its_feeds_poll_interval_is_fine_when_nothing_polls(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text("[polling]\nenabled = false\ninterval_s = 200\n")
    assert load_config(path).freshness.tms_window_s < load_config(path).polling.interval_s


def test_freshness_windows_are_set_per_source_and_by_environment(tmp_path, monkeypatch):
    path = tmp_path / "gateway.toml"
    path.write_text("[freshness]\nerp_window_s = 7.5\n")
    monkeypatch.setenv("LG_FRESHNESS__SWIFTPARCEL_WINDOW_S", "30")
    windows = load_config(path).freshness.windows_s()
    assert windows == {**GatewayConfig().freshness.windows_s(), "erp": 7.5, "swiftparcel": 30.0}
    assert set(windows) == {"erp", "wms", "tms", "swiftparcel", "roadline", "heritage"}
    monkeypatch.setenv("LG_FRESHNESS__ERP_WINDOW_S", "0.5")
    with pytest.raises(ConfigError, match=r"freshness\.erp_window_s: Input should be greater"):
        load_config(path)


def test_a_missing_file_is_an_error_not_a_silent_default(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "absent.toml")


def test_production_refuses_the_demo_api_keys(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text('environment = "production"\n')
    with pytest.raises(ConfigError, match=r"published default values: .*portal-c1001"):
        load_config(path)


def test_the_example_configuration_is_valid_and_matches_the_defaults():
    example = Path(__file__).resolve().parents[2] / "gateway.example.toml"
    config, defaults = load_config(example), GatewayConfig()
    sections = (
        "server",
        "stores",
        "polling",
        "freshness",
        "webhooks",
        "subgraphs",
        "limits",
        "idempotency",
        "throttling",
        "plans",
        "cache",
        "jwt",
        "oauth",
        "oauth_clients",
        "api_keys",
        "demand_control",
        "persisted_queries",
        "authorization",
        "contracts",
        "deprecations",
        "cors",
        "subscriptions",
    )
    for section in sections:
        assert getattr(config, section) == getattr(defaults, section), section
    assert config.backends.erp == defaults.backends.erp


def test_only_the_demo_warehouse_app_writes_in_a_warehouse_and_only_in_its_own():
    clients = GatewayConfig().clients
    writers = {name: c.warehouses for name, c in clients.items() if "warehouse" in c.scopes}
    assert writers == {"warehouse-app": frozenset({"WH-AMS"})}
    assert all(not c.warehouses for name, c in clients.items() if name.startswith("portal"))


def test_backend_defaults_are_defined_once_by_the_client_settings():
    built = backend_settings(GatewayConfig())
    known = {"erp": {"max_requests_per_s": ERP_REQUESTS_PER_S}}  # the reference ERP's own limit
    for name, settings in built.items():
        plain = BackendSettings(
            name=name, url=settings.url, credential=settings.credential, **known.get(name, {})
        )
        assert settings == plain, f"backends.{name} defaults differ from BackendSettings"


def test_deadlines_and_the_body_cap_are_set_per_backend(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text(
        "[backends.erp]\ntimeout_s = 0.5\ncall_timeout_s = 1.5\nmax_response_bytes = 65536\n"
    )
    settings = backend_settings(load_config(path))
    erp, wms = settings["erp"], settings["wms"]
    assert (erp.timeout_s, erp.call_timeout_s, erp.max_response_bytes) == (0.5, 1.5, 65536)
    assert wms.max_response_bytes != 65536, "one backend's settings leave the others alone"
    path.write_text("[backends.erp]\nmax_response_bytes = 0\n")
    with pytest.raises(ConfigError, match=r"backends\.erp\.max_response_bytes: Input should be"):
        load_config(path)
