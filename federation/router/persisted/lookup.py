"""Persisted operations: which document a request runs when it names one instead of sending it.

Automatic persisted queries (Apollo's APQ protocol): a request with
``extensions.persistedQuery = {"version": 1, "sha256Hash": h}`` and no ``query`` runs the
document registered under ``h``, or is told ``PERSISTED_QUERY_NOT_FOUND`` (200, never cached),
after which the client sends the text with the hash: the text is hashed, a mismatch refused
(``PERSISTED_QUERY_HASH_MISMATCH``, 400, nothing stored), and a document the router can
prepare is stored. Being only hashes and texts, such requests can be sent with GET and cached
by any HTTP cache. Trusted documents (``manifests``) are found by their id as well, from
``extensions.persistedQuery.sha256Hash``, ``documentId`` or ``id``. A caller limited to
registered operations runs trusted documents only: its own texts and unknown ids are refused
with ``PERSISTED_QUERY_NOT_IN_LIST``, and it registers nothing.

Every transport (HTTP POST and GET, WebSocket subscribe payloads, SSE, multipart) resolves a
request's document here before operation limits, demand control and planning see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from federation.router.errors import OperationError
from federation.router.persisted.manifests import DOCUMENT_ID, TrustedDocuments, sha256_hex
from federation.router.persisted.store import DocumentStore, MemoryDocuments

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
INVALID = "PERSISTED_QUERY_INVALID"
NO_CACHE = {"cache-control": "private, no-cache, must-revalidate"}
"""A not-found answer must not be cached: the next request registers the document."""

_HASH = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class PersistedRefusal:
    """The request names a document that cannot run; ``status`` None means the status of
    any request error (400 to clients of the GraphQL response media type, else 200). A
    request without any document has no ``code``, like every malformed request."""

    code: str
    message: str
    status: int | None = None
    headers: Mapping[str, str] | None = None

    @property
    def errors(self) -> list[dict[str, Any]]:
        if not self.code:
            return [{"message": self.message}]
        return [{"message": self.message, "extensions": {"code": self.code}}]


def refers_to_persisted(params: Mapping[str, Any]) -> bool:
    """Whether a request names a document instead of (or besides) sending one."""
    extensions = params.get("extensions")
    if isinstance(extensions, Mapping) and extensions.get("persistedQuery") is not None:
        return True
    return params.get("documentId") is not None or params.get("id") is not None


Prepare = Callable[[str, str | None], object]
"""``Router.prepare``: raises ``OperationError`` for a document that cannot run."""


@dataclass(frozen=True)
class PersistedOperations:
    """The trusted documents and, when ``apq`` is set, the store of automatic ones."""

    trusted: TrustedDocuments = field(default_factory=TrustedDocuments)
    apq: DocumentStore | None = field(default_factory=MemoryDocuments)

    async def document(
        self,
        params: Mapping[str, Any],
        *,
        registered_only: bool,
        prepare: Prepare,
    ) -> str | PersistedRefusal:
        """The text the request runs, or why it cannot run; stores an APQ registration."""
        query = params.get("query")
        sent = query if isinstance(query, str) and query else None
        extensions = params.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
        if persisted is not None:
            return await self._by_hash(persisted, sent, params, registered_only, prepare)
        document_id = params.get("documentId")
        if document_id is None:
            document_id = params.get("id")
        if document_id is not None:
            if sent is not None:
                return PersistedRefusal(
                    INVALID, "Send either a query or a documentId, not both.", 400
                )
            return self._by_id(document_id, registered_only)
        if sent is None:
            return PersistedRefusal("", "The query parameter must be a non-empty string.", 400)
        if registered_only and not self.trusted.trusts_text(sent):
            return _not_in_list()
        return sent

    async def _by_hash(
        self,
        persisted: object,
        sent: str | None,
        params: Mapping[str, Any],
        registered_only: bool,
        prepare: Prepare,
    ) -> str | PersistedRefusal:
        if not isinstance(persisted, Mapping):
            return PersistedRefusal(INVALID, "extensions.persistedQuery must be an object.", 400)
        if persisted.get("version") != 1:
            return PersistedRefusal(
                NOT_SUPPORTED, "Only version 1 of persisted queries is supported.", 400
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest):
            return PersistedRefusal(
                INVALID,
                "extensions.persistedQuery.sha256Hash must be 64 hexadecimal characters.",
                400,
            )
        digest = digest.lower()
        if sent is not None:
            if sha256_hex(sent) != digest:
                return PersistedRefusal(
                    HASH_MISMATCH, "The query's SHA-256 is not the sha256Hash sent.", 400
                )
            if registered_only:
                return sent if self.trusted.trusts_text(sent) else _not_in_list()
            if self.apq is not None and self.trusted.find(digest) is None:
                await self._register(digest, sent, params, prepare)
            return sent
        trusted = self.trusted.find(digest)
        if trusted is not None:
            return trusted.body
        if registered_only:
            return _not_in_list()
        if self.apq is None:
            return PersistedRefusal(NOT_SUPPORTED, "Persisted queries are not supported.")
        stored = await self.apq.get(digest)
        if stored is None or sha256_hex(stored) != digest:  # a shared store is not trusted
            return PersistedRefusal(NOT_FOUND, "PersistedQueryNotFound", 200, NO_CACHE)
        return stored

    async def _register(
        self, digest: str, document: str, params: Mapping[str, Any], prepare: Prepare
    ) -> None:
        """Store a document the router can prepare: nothing it refuses (too long, invalid)."""
        operation_name = params.get("operationName")
        try:
            prepare(document, operation_name if isinstance(operation_name, str) else None)
        except OperationError:
            return
        assert self.apq is not None
        await self.apq.set(digest, document)

    def _by_id(self, document_id: object, registered_only: bool) -> str | PersistedRefusal:
        if not isinstance(document_id, str) or not DOCUMENT_ID.fullmatch(document_id):
            return PersistedRefusal(
                INVALID,
                "documentId must be 1 to 256 letters, digits or . _ : ~ + / = -",
                400,
            )
        trusted = self.trusted.find(document_id)
        if trusted is not None:
            return trusted.body
        if registered_only:
            return _not_in_list()
        return PersistedRefusal(NOT_FOUND, f"No trusted document has the id {document_id!r}.")


def _not_in_list() -> PersistedRefusal:
    return PersistedRefusal(
        NOT_IN_LIST,
        "This client may run registered operations only, and this one is not registered.",
    )
