"""The `[workflows]` section: off unless enabled, every key checked at start naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config


def test_workflows_are_off_by_default_and_enabled_with_their_settings(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text("")
    assert not load_config(path).workflows.enabled
    path.write_text("[workflows]\nenabled = true\nretry_initial_s = 0.5\nretry_max_s = 60\n")
    workflows = load_config(path).workflows
    assert workflows.enabled and workflows.retry_initial_s == 0.5 and workflows.retry_max_s == 60
    assert load_config(path).subgraphs["workflows"].url == "inproc:resolvers.workflows:schema"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("enabled = 'yes'\n", "workflows.enabled: Value error, must be true or false"),
        ("enabled = 1\n", "workflows.enabled: Value error, must be true or false"),
        ("retry_initial_s = 0\n", "workflows.retry_initial_s: Input should be greater than 0"),
        ("retry_initial_s = -1\n", "workflows.retry_initial_s: Input should be greater than 0"),
        ("retry_max_s = 1e12\n", "workflows.retry_max_s: Input should be less than or equal"),
        ("retry_initial_s = 10\nretry_max_s = 5\n", "retry_initial_s must not exceed retry_max_s"),
        ("lease_ttl_s = 0\n", "workflows.lease_ttl_s: Input should be greater than 0"),
        ("poll_s = 'often'\n", "workflows.poll_s: Input should be a valid number"),
        ("concurrency = 0\n", "workflows.concurrency: Input should be greater than or equal to 1"),
        ("concurrency = 100000\n", "workflows.concurrency: Input should be less than or equal"),
        (f"concurrency = {'9' * 5000}\n", "not valid TOML"),
        ("retries = 3\n", "workflows.retries: unknown key"),
        ("since = 2026-12-01T09:00:00\n", "workflows.since: Input should have timezone info"),
        ("since = 'yesterday'\n", "workflows.since: Input should be a valid datetime"),
        ("since = 2026-12-01\n", "workflows.since: Input should have timezone info"),
    ],
)
def test_a_bad_workflows_key_fails_at_start_naming_the_key(
    tmp_path: Path, text: str, expected: str
):
    path = tmp_path / "gateway.toml"
    path.write_text("[workflows]\n" + text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert expected in str(raised.value)


def test_workflows_are_switched_on_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LG_WORKFLOWS__ENABLED", "true")
    assert load_config().workflows.enabled


def test_a_bad_workflows_environment_override_names_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LG_WORKFLOWS__RETRY_MAX_S", "-3")
    with pytest.raises(ConfigError, match=r"workflows\.retry_max_s: Input should be greater"):
        load_config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("enabled = 'on'\n", "reconciliation.enabled: Value error, must be true or false"),
        ("interval_s = 0\n", "reconciliation.interval_s: Input should be greater than or equal"),
        ("interval_s = 1e9\n", "reconciliation.interval_s: Input should be less than or equal"),
        ("lease_ttl_s = -1\n", "reconciliation.lease_ttl_s: Input should be greater than 0"),
        ("every = 5\n", "reconciliation.every: unknown key"),
    ],
)
def test_a_bad_reconciliation_key_fails_at_start_naming_the_key(tmp_path, text, expected):
    path = tmp_path / "gateway.toml"
    path.write_text("[reconciliation]\n" + text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert expected in str(raised.value)


def test_since_is_an_instant_with_its_offset(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text("[workflows]\nsince = 2026-12-01T10:00:00+01:00\n")
    since = load_config(path).workflows.since
    assert since is not None and since.isoformat() == "2026-12-01T10:00:00+01:00"
