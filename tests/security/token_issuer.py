"""An identity provider for tests: RS256, ES256 and EdDSA keys, tokens signed with them (or
forged), and their JWKS served by a real HTTP server on loopback that counts its fetches."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken

ISSUER = "https://idp.example.test"
AUDIENCE = "logistics-portal"
CURVES = {"RS256": ("RSA", 2048), "ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}


@dataclass
class SigningKey:
    algorithm: str
    kid: str
    key: Any

    def public(self) -> dict[str, Any]:
        public = self.key.as_dict(is_private=False)
        public.update({"kid": self.kid, "use": "sig", "alg": self.algorithm})
        return public


def new_key(algorithm: str, kid: str) -> SigningKey:
    kty, size = CURVES[algorithm]
    return SigningKey(algorithm, kid, JsonWebKey.generate_key(kty, size, is_private=True))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "portal-user-7",
        "tenant": "C-1001",
        "scope": "read",
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    headers = {"alg": key.algorithm, "kid": key.kid, **header}
    return JsonWebToken([key.algorithm]).encode(headers, payload, key.key, check=False).decode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any], **header: Any) -> str:
    """A token with `alg: none` and no signature."""
    head = b64(orjson.dumps({"alg": "none", **header}))
    return f"{head}.{b64(orjson.dumps(payload))}."


def hmac_with_public_key(key: SigningKey, payload: dict[str, Any]) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the published public key."""
    secret = orjson.dumps(key.public(), option=orjson.OPT_SORT_KEYS)
    head = b64(orjson.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}))
    body = b64(orjson.dumps(payload))
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


@dataclass
class JwksServer:
    """The provider's JWKS endpoint; `keys` can change while it runs (a rotation)."""

    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def document(self) -> bytes:
        self.fetches += 1
        return orjson.dumps({"keys": [key.public() for key in self.keys]})


@contextmanager
def serving_jwks(keys: list[SigningKey]) -> Iterator[JwksServer]:
    served = JwksServer(list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.document()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
