"""Trusted documents: the operations a deployment knows in advance, from manifest files.

Two formats are read: Apollo's persisted query list
(``{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body",
"name", "type"}]}``) and Relay's (``{"<id>": "<text>", ...}``). Every entry is checked when the
manifest is loaded, so a bad one stops the start naming its file and entry: its body must be
a GraphQL document within the operation limits, and an id that is a hash (Relay's always are:
MD5, SHA-1 or SHA-256 of the text; Apollo's when they are 64 hexadecimal characters, SHA-256)
must be the hash of its body, so no manifest can make one id run another text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from federation.router.errors import FederationError, OperationError
from federation.router.limits import OperationLimits, parse_within_limits

APOLLO_FORMAT = "apollo-persisted-query-manifest"
MAX_ID_LENGTH = 256
DOCUMENT_ID = re.compile(r"[A-Za-z0-9_.:~+/=-]{1,256}")
"""What a trusted document's id may be: what manifest generators produce, nothing that needs
escaping in a URL query string or a log line."""
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_RELAY_HASHES = {32: "md5", 40: "sha1", 64: "sha256"}
_OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})


class ManifestError(FederationError):
    """A manifest that cannot be trusted; the message names the file and the entry."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    id: str
    body: str
    name: str | None = None
    type: str | None = None
    source: str = ""
    """The manifest it came from."""


@dataclass(frozen=True)
class TrustedDocuments:
    """Trusted documents by id and by the SHA-256 of their text; loaded once, never added to
    at run time (automatic persisted queries live elsewhere and cannot reach this list)."""

    by_id: Mapping[str, TrustedDocument] = field(default_factory=dict)
    by_hash: Mapping[str, TrustedDocument] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.by_id)

    def find(self, key: str) -> TrustedDocument | None:
        """The document with this id, or whose text has this SHA-256."""
        return self.by_id.get(key) or self.by_hash.get(key)

    def trusts_text(self, text: str) -> bool:
        return sha256_hex(text) in self.by_hash

    @classmethod
    def of(cls, documents: Iterable[TrustedDocument]) -> TrustedDocuments:
        by_id: dict[str, TrustedDocument] = {}
        by_hash: dict[str, TrustedDocument] = {}
        for document in documents:
            known = by_id.get(document.id)
            if known is not None and known.body != document.body:
                raise ManifestError(
                    f"{document.source}: operation {document.id!r} has another body in "
                    f"{known.source}; one id must name one document"
                )
            by_id[document.id] = document
            by_hash.setdefault(sha256_hex(document.body), document)
        return cls(by_id, by_hash)


def load_manifests(paths: Iterable[str | Path], limits: OperationLimits) -> TrustedDocuments:
    """Every manifest at ``paths``, checked; raises ``ManifestError`` for the first bad one."""
    documents: list[TrustedDocument] = []
    for path in paths:
        documents.extend(load_manifest(Path(path), limits))
    return TrustedDocuments.of(documents)


def load_manifest(path: Path, limits: OperationLimits) -> list[TrustedDocument]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ManifestError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ManifestError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise ManifestError(f"{path}: a manifest is a JSON object (Apollo or Relay format)")
    if "format" in content:
        return _apollo(path, content, limits)
    return _relay(path, content, limits)


def _apollo(
    path: Path, content: dict[str, object], limits: OperationLimits
) -> list[TrustedDocument]:
    if content.get("format") != APOLLO_FORMAT:
        raise ManifestError(f"{path}: format must be {APOLLO_FORMAT!r}")
    if content.get("version") != 1:
        raise ManifestError(f"{path}: version must be 1, the one this router reads")
    operations = content.get("operations")
    if not isinstance(operations, list):
        raise ManifestError(f"{path}: operations must be a list")
    documents = []
    for index, entry in enumerate(operations):
        where = f"{path}: operations[{index}]"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: must be an object with id, body, name and type")
        document_id = _id(entry.get("id"), where)
        where = f"{where} ({document_id!r})"
        body = _body(entry.get("body"), where, limits)
        name = entry.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_ID_LENGTH):
            raise ManifestError(f"{where}: name must be a string of at most {MAX_ID_LENGTH}")
        kind = entry.get("type")
        if kind is not None and kind not in _OPERATION_TYPES:
            raise ManifestError(f"{where}: type must be query, mutation or subscription")
        if SHA256_HEX.fullmatch(document_id) and sha256_hex(body) != document_id.lower():
            raise ManifestError(f"{where}: the id is not the SHA-256 of the body")
        documents.append(TrustedDocument(document_id, body, name, kind, str(path)))  # type: ignore[arg-type]
    return documents


def _relay(
    path: Path, content: dict[str, object], limits: OperationLimits
) -> list[TrustedDocument]:
    documents = []
    for document_id, body in content.items():
        where = f"{path}: entry {document_id[:80]!r}"
        _id(document_id, where)
        text = _body(body, where, limits)
        algorithm = _RELAY_HASHES.get(len(document_id))
        if algorithm is None or not re.fullmatch(r"[0-9a-f]+", document_id):
            raise ManifestError(
                f"{where}: a Relay id is the MD5, SHA-1 or SHA-256 of its text, in hexadecimal"
            )
        digest = hashlib.new(algorithm, text.encode("utf-8", "surrogatepass")).hexdigest()
        if digest != document_id:
            raise ManifestError(f"{where}: the id is not the {algorithm.upper()} of the text")
        documents.append(TrustedDocument(document_id, text, source=str(path)))
    return documents


def _id(value: object, where: str) -> str:
    if not isinstance(value, str) or not DOCUMENT_ID.fullmatch(value):
        raise ManifestError(
            f"{where}: the id must be 1 to {MAX_ID_LENGTH} letters, digits or . _ : ~ + / = -"
        )
    return value


def _body(value: object, where: str, limits: OperationLimits) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}: the body must be a non-empty string")
    try:
        parse_within_limits(value, limits)
    except OperationError as error:
        raise ManifestError(f"{where}: {error.errors[0]['message']}") from None
    return value
