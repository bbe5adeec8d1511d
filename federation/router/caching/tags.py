"""Cache tags: which entities an answer holds, so a change to one purges every answer with it.

A tag names one entity by its type and key, the same way wherever it comes from:
`entity_tag("Shipment", {"trackingNumber": "1Z..."})` is `Shipment:{"trackingNumber":"1Z..."}`.
The router tags every `_entities` answer with the representations it asked for, and takes the
tags a subgraph announces in its answer's extensions, as Apollo Router reads them:
`apolloCacheTags` (strings) and `apolloEntityCacheTags` (a list of strings per entity).
A subgraph that resolves an entity outside `_entities` (a root field, a list) announces it
there, so whoever changes the entity can purge by the same tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

ROOT_TAGS = "apolloCacheTags"
ENTITY_TAGS = "apolloEntityCacheTags"
MAX_TAG_LENGTH = 512
"""A longer announced tag is dropped: tags are index keys, not data."""


def entity_tag(typename: str, key: Mapping[str, Any]) -> str:
    """The tag of one entity: its type and key fields (sorted), as compact JSON."""
    return f"{typename}:" + orjson.dumps(dict(key), option=orjson.OPT_SORT_KEYS).decode()


def representation_tag(representation: Mapping[str, Any], key_fields: Iterable[str]) -> str | None:
    """The tag of an `_entities` representation, keyed by the type's key fields (None when
    the representation lacks one of them)."""
    typename = representation.get("__typename")
    if not isinstance(typename, str):
        return None
    key: dict[str, Any] = {}
    for name in key_fields:
        if name not in representation:
            return None
        key[name] = representation[name]
    return entity_tag(typename, key)


def announced_tags(response: Any) -> set[str]:
    """The tags a subgraph answer announces in its extensions (malformed ones ignored)."""
    extensions = response.get("extensions") if isinstance(response, dict) else None
    if not isinstance(extensions, dict):
        return set()
    tags: set[str] = set()
    for tag in tag_strings(extensions.get(ROOT_TAGS)):
        tags.add(tag)
    per_entity = extensions.get(ENTITY_TAGS)
    if isinstance(per_entity, list):
        for entity in per_entity:
            tags.update(tag_strings(entity))
    return tags


def tag_strings(value: Any) -> Iterable[str]:
    """The well-formed tags of an announced list."""
    if not isinstance(value, list):
        return ()
    return (item for item in value if isinstance(item, str) and 0 < len(item) <= MAX_TAG_LENGTH)
