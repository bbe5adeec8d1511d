"""A serving gateway tunes its garbage collector once started (`gateway.heap`): what startup
built is frozen and full passes are spaced out; an app built without asking (as the tests and
embedding code build them) changes nothing."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import load_config
from gateway.heap import FULL_PASS_AFTER


def test_only_a_serving_app_freezes_its_startup_and_spaces_out_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LG_POLLING__ENABLED", "false")
    config = load_config()
    defaults = gc.get_threshold()
    try:
        with TestClient(create_app(config)) as client:
            assert client.get("/health").status_code == 200
            unasked = gc.get_freeze_count(), gc.get_threshold()
        with TestClient(create_app(config, settle_heap=True)) as client:
            assert client.get("/health").status_code == 200
            frozen, settled = gc.get_freeze_count(), gc.get_threshold()
    finally:
        gc.unfreeze()
        gc.set_threshold(*defaults)
    assert unasked == (0, defaults)
    assert frozen > 10_000, f"only {frozen} objects frozen after startup"
    assert settled == (*defaults[:2], FULL_PASS_AFTER)
