"""The deployment files, checked as a linter would where no container can run: the image
definition (hadolint's main rules), the compose file (three replicas on the shared engines,
started only once those are healthy), the load balancer's and the NATS cluster's
configurations. The multi-process tests (`test_replicas`) stand for running them."""

from __future__ import annotations

import re
import secrets
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from gateway.config import load_config
from tests.sandbox_processes import REPOSITORY

DEPLOY = REPOSITORY / "deploy"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|SIGNING_KEY|API_KEY", re.I)
PLACEHOLDER = re.compile(r"^\$\{[A-Z_]+:\?[^}]*\}$")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages(found: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    split: list[list[tuple[str, str]]] = []
    for instruction in found:
        if instruction[0] == "FROM":
            split.append([])
        split[-1].append(instruction)
    return split


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(REPOSITORY / "Dockerfile")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_image_is_built_in_stages_from_images_pinned_by_tag(dockerfile):
    froms = [arguments for keyword, arguments in dockerfile if keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a slimmer runtime stage"
    for arguments in froms:
        image = arguments.split()[0]
        if image in {a.split()[-1] for a in froms if " AS " in a.upper()}:
            continue  # an earlier stage
        _name, _, tag = image.partition(":")
        assert tag and tag != "latest" and re.search(r"\d", tag), f"FROM {image}: pin a tag"


def test_the_runtime_stage_runs_as_a_user_without_privileges(dockerfile):
    final = stages(dockerfile)[-1]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"USER {users[-1]} is root"
    last_user = max(i for i, (keyword, _) in enumerate(final) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in final[last_user:]), "nothing runs after USER"


def test_the_image_checks_its_health_on_the_health_route(dockerfile):
    checks = [
        arguments for keyword, arguments in stages(dockerfile)[-1] if keyword == "HEALTHCHECK"
    ]
    assert len(checks) == 1 and "/health" in checks[0] and "CMD" in checks[0]
    ports = [arguments for keyword, arguments in dockerfile if keyword == "EXPOSE"]
    envs = " ".join(arguments for keyword, arguments in dockerfile if keyword == "ENV")
    port = re.search(r"LG_SERVER__PORT=(\d+)", envs)
    assert port and ports == [port.group(1)] and f":{port.group(1)}/health" in checks[0]


def test_nothing_is_fetched_by_add_and_apt_lists_are_cleaned(dockerfile):
    for keyword, arguments in dockerfile:
        if keyword == "ADD":
            assert not re.search(r"https?://", arguments), f"ADD {arguments}: fetch in a RUN"
        if keyword == "RUN" and "apt-get install" in arguments:
            assert "--no-install-recommends" in arguments, arguments
            assert "rm -rf /var/lib/apt/lists/*" in arguments, f"apt lists stay: {arguments}"
            assert "apt-get update" in arguments, "update and install in one layer"


def test_every_copy_names_its_owner_and_the_whole_product_is_copied(dockerfile):
    copies = [arguments for keyword, arguments in dockerfile if keyword == "COPY"]
    assert all(arguments.startswith(("--chown=", "--from=")) for arguments in copies), copies
    assert all("--chown=" in arguments for arguments in copies), copies
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {shlex.split(arguments)[-2] for arguments in copies}
    assert packages <= copied, f"packages the image would miss: {packages - copied}"


def test_no_secret_is_baked_into_the_image(dockerfile):
    for keyword, arguments in dockerfile:
        if keyword in ("ENV", "ARG"):
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", arguments):
                assert not SECRET_NAME.search(name), f"{keyword} {name}: pass secrets at run time"
    ignored = (REPOSITORY / ".dockerignore").read_text().split()
    for kept_out in (".git", "gateway.toml", "*.env", ".venv"):
        assert kept_out in ignored, f".dockerignore lets {kept_out} into the build context"


def gateways(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("logistics-gateway")
    }


def by_image(compose: dict[str, Any], image: str) -> set[str]:
    return {
        name
        for name, service in compose["services"].items()
        if service.get("image", "").split(":")[0] == image
    }


def test_three_gateway_replicas_start_once_every_shared_engine_is_healthy(compose):
    replicas = gateways(compose)
    assert len(replicas) == 3, sorted(replicas)
    engines = by_image(compose, "postgres") | by_image(compose, "redis") | by_image(compose, "nats")
    assert len(by_image(compose, "nats")) == 3, "a three-node NATS cluster"
    for name, service in replicas.items():
        assert service["build"]["dockerfile"] == "Dockerfile", name
        depends = service["depends_on"]
        assert set(depends) == engines, f"{name} waits for {sorted(depends)}"
        assert all(d["condition"] == "service_healthy" for d in depends.values()), name
    for engine in engines:
        assert "healthcheck" in compose["services"][engine], f"{engine} has no healthcheck"


def hosts(url: str) -> list[str]:
    return re.findall(r"(?:@|//)([a-z0-9-]+):\d+", url)


def test_every_store_variable_points_at_the_compose_services(compose):
    for _name, service in gateways(compose).items():
        environment = service["environment"]
        stores = {key: value for key, value in environment.items() if key.startswith("LG_STORES__")}
        assert hosts(stores["LG_STORES__DATABASE_URL"]) == sorted(by_image(compose, "postgres"))
        assert stores["LG_STORES__DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert hosts(stores["LG_STORES__CACHE"]) == sorted(by_image(compose, "redis"))
        assert sorted(hosts(stores["LG_STORES__EVENT_LOG"])) == sorted(by_image(compose, "nats"))
        assert int(stores["LG_STORES__EVENT_REPLICAS"]) == 3, "every event on every node"
        password = re.search(r"gateway:([^@]+)@", stores["LG_STORES__DATABASE_URL"])
        assert password and PLACEHOLDER.match(password.group(1)), "the password comes from outside"


def test_the_replicas_environment_is_a_valid_production_configuration(
    compose, tmp_path, monkeypatch
):
    """The variables compose gives a replica, with gateway.env filled in, make a configuration
    the gateway accepts in production: each name reaches the key it means."""
    for name in list(__import__("os").environ):
        if name.startswith("LG_"):
            monkeypatch.delenv(name)
    (service,) = list(gateways(compose).values())[:1]
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, re.sub(r"\$\{[^}]+\}", "from-the-shell", str(value)))
    private_key = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    for line in (DEPLOY / "gateway.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key = line.split("=", 1)[0]
            if key.endswith("__URL"):
                value = "https://backend.example.com"
            elif key == "LG_OAUTH__SIGNING_KEY":
                value = private_key.decode()
            else:
                value = f"{key.lower()}-{secrets.token_urlsafe(32)}"
            monkeypatch.setenv(key, value)
    config_file = tmp_path / "gateway.toml"
    config_file.write_text("clients = {}\noauth_clients = {}\n")  # the deployment's own, mounted
    monkeypatch.setenv("LG_CONFIG", str(config_file))
    config = load_config(None)
    assert config.environment == "production"
    assert config.stores.event_replicas == 3 and config.stores.cache == "redis://redis:6379/0"
    assert service["command"][:2] == ["run", "--workers"]


def test_the_load_balancer_spreads_over_the_replicas_and_upgrades_websockets(compose):
    balancer = by_image(compose, "nginx")
    assert len(balancer) == 1
    (name,) = balancer
    depends = compose["services"][name]["depends_on"]
    assert set(depends) == set(gateways(compose)), "it starts once the replicas are healthy"
    assert all(d["condition"] == "service_healthy" for d in depends.values())
    nginx = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream gateways \{(.*?)\}", nginx, re.S)
    assert upstream is not None
    servers = re.findall(r"server ([a-z0-9-]+):(\d+)", upstream.group(1))
    assert sorted(host for host, _ in servers) == sorted(gateways(compose))
    assert {port for _, port in servers} == {"8000"}
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_buffering off;",
        "map $http_upgrade $connection_upgrade",
    ):
        assert directive in nginx, f"nginx.conf lacks {directive}"


def nats_setting(text: str, name: str) -> str | None:
    found = re.search(rf"^\s*{name}\s*:\s*(\S+)", text, re.M)
    return found.group(1) if found else None


def test_the_nats_nodes_form_one_jetstream_cluster_with_consistent_routes(compose):
    nodes = sorted(by_image(compose, "nats"))
    configs = {}
    for node in nodes:
        service = compose["services"][node]
        (path,) = [a for a in service["command"] if a.endswith(".conf")]
        (mount,) = [v for v in service["volumes"] if v.endswith(f":{path}:ro")]
        configs[node] = (DEPLOY / mount.split(":")[0]).read_text()
    clusters = set()
    expected_routes = set()
    for node, text in configs.items():
        assert nats_setting(text, "server_name") == node, f"{node}: server_name"
        assert re.search(r"jetstream\s*\{[^}]*store_dir", text), f"{node}: JetStream is off"
        cluster = re.search(r"cluster\s*\{(.*?)\n\}", text, re.S)
        assert cluster is not None, f"{node}: no cluster block"
        clusters.add(nats_setting(cluster.group(1), "name"))
        port = nats_setting(cluster.group(1), "listen").rsplit(":", 1)[1]
        expected_routes.add(f"nats-route://{node}:{port}")
    assert len(clusters) == 1, f"one cluster name: {clusters}"
    for node, text in configs.items():
        routes = set(re.findall(r"nats-route://[a-z0-9-]+:\d+", text))
        assert routes == expected_routes, f"{node} routes {sorted(routes)}"
