"""Persisted operations: automatic persisted queries and trusted documents (safelisting).

trusted = load_manifests(["persisted-queries.json"], limits)   # at start; ManifestError
router = Router(supergraph, persisted=PersistedOperations(trusted, apq=MemoryDocuments()))
"""

from federation.router.persisted.lookup import (
    HASH_MISMATCH,
    INVALID,
    NOT_FOUND,
    NOT_IN_LIST,
    NOT_SUPPORTED,
    PersistedOperations,
    PersistedRefusal,
    refers_to_persisted,
)
from federation.router.persisted.manifests import (
    APOLLO_FORMAT,
    ManifestError,
    TrustedDocument,
    TrustedDocuments,
    load_manifest,
    load_manifests,
    sha256_hex,
)
from federation.router.persisted.store import DocumentStore, MemoryDocuments

__all__ = [
    "APOLLO_FORMAT",
    "HASH_MISMATCH",
    "INVALID",
    "NOT_FOUND",
    "NOT_IN_LIST",
    "NOT_SUPPORTED",
    "DocumentStore",
    "ManifestError",
    "MemoryDocuments",
    "PersistedOperations",
    "PersistedRefusal",
    "TrustedDocument",
    "TrustedDocuments",
    "load_manifest",
    "load_manifests",
    "refers_to_persisted",
    "sha256_hex",
]
