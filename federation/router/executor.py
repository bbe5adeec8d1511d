"""Running a query plan: fetches in dependency order, answers merged into one tree.

Each fetch starts as soon as the fetches it depends on have merged, so independent fetches
overlap. An entity fetch collects the objects at its path, builds one deduplicated list of
representations and makes one ``_entities`` call. Subgraph errors are re-pathed onto the
client's response paths; a failing subgraph leaves its fields missing (the projection turns
them into nulls) and adds an error, so the rest of the response still arrives.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from opentelemetry.trace import SpanKind

from federation.router.caching.request import RequestCaching
from federation.router.caching.tags import (
    ENTITY_TAGS,
    ROOT_TAGS,
    announced_tags,
    representation_tag,
    tag_strings,
)
from federation.router.errors import SubgraphError
from federation.router.headers import NOTHING_FORWARDED, Forwarded
from federation.router.operation import Conditions, Field, Fragment, Selection
from federation.router.plan import Fetch, QueryPlan, Schedule
from federation.router.telemetry import NO_TELEMETRY, RouterTelemetry
from federation.router.transports.base import SubgraphRequest, Transport

TypeMatcher = Callable[[str | None, str], bool]


_logger = logging.getLogger("federation.router.subgraphs")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class PlanExecution:
    """The state of one plan run: the merged data and the errors so far."""

    def __init__(
        self,
        plan: QueryPlan,
        transports: Mapping[str, Transport],
        subgraph_names: Mapping[str, str],
        type_applies: TypeMatcher,
        abstract_types: frozenset[str],
        variables: dict[str, Any],
        headers: Mapping[str, str],
        context: Any,
        forwarded: Forwarded = NOTHING_FORWARDED,
        redacted: frozenset[str] = frozenset(),
        caching: RequestCaching | None = None,
        telemetry: RouterTelemetry = NO_TELEMETRY,
    ) -> None:
        self.plan = plan
        self.caching = caching
        self.redacted = redacted
        self.telemetry = telemetry
        self.transports = transports
        self.subgraph_names = subgraph_names
        self.type_applies = type_applies
        self.abstract_types = abstract_types
        self.variables = variables
        self.headers = headers
        self.forwarded = forwarded
        self.context = context
        self.data: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []

    async def run(self) -> None:
        fetches = self.plan.fetches
        if not fetches:
            return
        if len(fetches) == 1:
            await self._run_fetch(fetches[0])
            return
        schedule = self.plan.schedule
        await self._run_all(schedule, schedule.roots, dict(schedule.waiting_for))

    async def _run_all(
        self, schedule: Schedule, ids: tuple[int, ...], waiting: dict[int, int]
    ) -> None:
        if len(ids) == 1:
            await self._run_from(schedule, ids[0], waiting)
        else:
            await asyncio.gather(*(self._run_from(schedule, i, waiting) for i in ids))

    async def run_after_answer(self, fetch: Fetch, response: dict[str, Any]) -> None:
        """Run the plan with root ``fetch`` already answered by ``response``.

        A subscription's root fetch is answered by each event its subgraph sends rather than
        by a request the executor makes; the rest of the plan (entity fetches of the event's
        objects) runs from there exactly as for a query.
        """
        if fetch.aliased and isinstance(response, dict):
            _restore_aliases(response.get("data"))
        self._accept_root_answer(fetch, response)
        if len(self.plan.fetches) > 1:
            schedule = self.plan.schedule
            await self._release(schedule, fetch.id, dict(schedule.waiting_for))

    async def _run_from(self, schedule: Schedule, fetch_id: int, waiting: dict[int, int]) -> None:
        """Run a fetch, then the ones it was the last dependency of (a chain needs no task)."""
        await self._run_fetch(schedule.by_id[fetch_id])
        await self._release(schedule, fetch_id, waiting)

    async def _release(self, schedule: Schedule, fetch_id: int, waiting: dict[int, int]) -> None:
        """Run the fetches that finished fetch ``fetch_id`` was the last dependency of."""
        ready: list[int] = []
        for dependent in schedule.dependents[fetch_id]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
        if ready:
            await self._run_all(schedule, tuple(ready), waiting)

    # -- one fetch --------------------------------------------------------------------------

    async def _run_fetch(self, fetch: Fetch) -> None:
        if fetch.run_if and not any(self._holds(conditions) for conditions in fetch.run_if):
            return
        variables = {
            name: self.variables[name] for name in fetch.variables if name in self.variables
        }
        if fetch.entity is None:
            await self._run_root_fetch(fetch, variables)
        else:
            await self._run_entity_fetch(fetch, variables)

    async def _run_root_fetch(self, fetch: Fetch, variables: dict[str, Any]) -> None:
        self._accept_root_answer(fetch, await self._send(fetch, variables, ()))

    def _accept_root_answer(self, fetch: Fetch, response: Any) -> None:
        answer = self._read_answer(fetch, response, ())
        if answer is None:
            return
        data, errors = answer
        if data is not None:
            _merge(self.data, data, self.abstract_types)
        for error in errors:
            self.errors.append(self._client_error(fetch, error, _response_path(error)))

    async def _run_entity_fetch(self, fetch: Fetch, variables: dict[str, Any]) -> None:
        """Extend the objects at the fetch's path; none found (their fetch failed, or they
        lack the fields the representation needs) means no call at all."""
        assert fetch.entity is not None
        targets: list[tuple[dict[str, Any], list[Any]]] = []
        _collect(self.data, fetch.path, 0, [], targets)
        accepted = fetch.entity.type_names
        representations: list[Any] = []
        owners: list[list[tuple[dict[str, Any], list[Any]]]] = []
        index_of: dict[bytes, int] = {}
        for target, path in targets:
            if target.get("__typename") not in accepted:
                continue
            representation = self._representation(target, fetch)
            if representation is None:
                continue
            fingerprint = orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)
            index = index_of.get(fingerprint)
            if index is None:
                index = index_of[fingerprint] = len(representations)
                representations.append(representation)
                owners.append([])
            owners[index].append((target, path))
        if not representations:
            return
        keys: list[str] = []
        caching = self.caching
        entity_cache = None
        if caching is not None:
            tags = self._representation_tags(fetch, representations)
            caching.tags.update(tag for tag in tags if tag is not None)
            policy = caching.fetch_policies.get(fetch.id)
            if caching.entities is not None and policy is not None and policy.cacheable:
                entity_cache = caching.entities
                partition = caching.partition.for_scope(policy.private)
                keys = entity_cache.keys(
                    fetch.subgraph, fetch.operation, representations, partition
                )
                cached = await entity_cache.lookup(keys)
                for index, hit in enumerate(cached):
                    if hit is not None:
                        entity, entity_tags = hit
                        caching.tags.update(entity_tags)
                        for target, _ in owners[index]:
                            _merge(target, entity, self.abstract_types)
                sent = [index for index, hit in enumerate(cached) if hit is None]
                if not sent:
                    return
                if len(sent) < len(representations):
                    owners = [owners[index] for index in sent]
                    keys = [keys[index] for index in sent]
                    representations = [representations[index] for index in sent]
        variables["representations"] = representations
        first_path = owners[0][0][1]
        response = await self._send(fetch, variables, first_path)
        answer = self._read_answer(fetch, response, first_path)
        if answer is None:
            return
        data, errors = answer
        if data is None and not errors and response.get("data") is not None:
            return  # data of the wrong type, already reported
        failed: set[int] = set()
        for error in errors:
            error_path = _response_path(error)
            client_path = first_path
            if (
                error_path is not None
                and len(error_path) >= 2
                and error_path[0] == "_entities"
                and isinstance(error_path[1], int)
                and 0 <= error_path[1] < len(owners)
            ):
                client_path = owners[error_path[1]][0][1] + error_path[2:]
                failed.add(error_path[1])
            else:
                failed.update(range(len(owners)))
            self.errors.append(self._client_error(fetch, error, client_path))
        entities = data.get("_entities") if data is not None else None
        if not isinstance(entities, list):
            if not errors:
                self._subgraph_failure(fetch, "returned no entities", first_path)
            return
        if len(entities) != len(representations):
            self._subgraph_failure(fetch, "returned a wrong number of entities", first_path)
            return
        for index, entity in enumerate(entities):
            if entity is None:
                continue
            if not isinstance(entity, dict):
                self._invalid_answer(fetch, "an entity that is not an object", owners[index][0][1])
                continue
            for target, _ in owners[index]:
                _merge(target, entity, self.abstract_types)
        if entity_cache is not None and caching is not None:
            await self._keep_entities(fetch, keys, representations, entities, failed, response)

    def _representation_tags(self, fetch: Fetch, representations: list[Any]) -> list[str | None]:
        """Each representation's entity tag, by the first key of its type in the fetch's
        subgraph that it holds entirely."""
        assert self.caching is not None
        tags: list[str | None] = []
        for representation in representations:
            typename = representation.get("__typename")
            tag = None
            for key in self.caching.key_fields(typename, fetch.subgraph):
                tag = representation_tag(representation, key)
                if tag is not None:
                    break
            tags.append(tag)
        return tags

    async def _keep_entities(
        self,
        fetch: Fetch,
        keys: list[str],
        representations: list[Any],
        entities: list[Any],
        failed: set[int],
        response: Any,
    ) -> None:
        """Keep each well-formed entity answered without an error, tagged with its key and
        what the subgraph announced for it (its own list, or the whole answer's tags)."""
        caching = self.caching
        assert caching is not None and caching.entities is not None
        policy = caching.fetch_policies[fetch.id]
        own_tags = self._representation_tags(fetch, representations)
        extensions = response.get("extensions") if isinstance(response, dict) else None
        extensions = extensions if isinstance(extensions, dict) else {}
        root_tags = set(tag_strings(extensions.get(ROOT_TAGS)))
        per_entity = extensions.get(ENTITY_TAGS)
        if not isinstance(per_entity, list) or len(per_entity) != len(entities):
            per_entity = None
            root_tags = announced_tags(response)
        kept = []
        for index, entity in enumerate(entities):
            if index in failed or not isinstance(entity, dict):
                continue
            tags = set(root_tags)
            if own_tags[index] is not None:
                tags.add(own_tags[index])
            if per_entity is not None:
                tags.update(tag_strings(per_entity[index]))
            kept.append((keys[index], entity, sorted(tags)))
        assert policy.max_age is not None
        await caching.entities.keep(kept, ttl_s=policy.max_age, started_at=caching.started_at)

    def _read_answer(
        self, fetch: Fetch, response: Any, path: list[Any] | tuple[()]
    ) -> tuple[dict[str, Any] | None, list[Any]] | None:
        """The answer's data and errors, or None (and one error) when it is not GraphQL.

        ``data`` must be an object or null and ``errors`` a list: anything else would be
        merged into the client's answer as if a subgraph had said it, so it is dropped with
        one error and the well-formed part is kept.
        """
        if response is None:
            return None
        if not isinstance(response, dict):
            self._invalid_answer(fetch, "an answer that is not a JSON object", path)
            return None
        data = response.get("data")
        errors = response.get("errors")
        if errors is not None and not isinstance(errors, list):
            self._invalid_answer(fetch, "errors that are not a list", path)
            errors = None
        if data is not None and not isinstance(data, dict):
            self._invalid_answer(fetch, "data that is not an object", path)
            data = None
        return data, errors or []

    def _client_error(self, fetch: Fetch, error: Any, path: Any) -> dict[str, Any]:
        """A subgraph error as the client sees it; a malformed one becomes a neutral error."""
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            return self._neutral_error(fetch, "an error without a message", path)
        if fetch.subgraph in self.redacted:
            return self._redacted_error(fetch, error, path)
        return _clean_error(error, path)

    def _redacted_error(self, fetch: Fetch, error: dict[str, Any], path: Any) -> dict[str, Any]:
        """A subgraph error whose text stays in the log: only a well-formed code goes on."""
        name = self.subgraph_names.get(fetch.subgraph, fetch.subgraph)
        trace = " ".join(f"{header}={value}" for header, value in self.forwarded.trace)
        _logger.warning("subgraph %s answered an error: %s [%s]", name, error["message"], trace)
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            code = "SUBGRAPH_ERROR"
        redacted: dict[str, Any] = {
            "message": f'Subgraph "{name}" returned an error.',
            "extensions": {
                "code": code
                if isinstance(code, str) and _CODE.fullmatch(code)
                else "SUBGRAPH_ERROR",
                "serviceName": name,
            },
        }
        if path:
            redacted["path"] = list(path)
        return redacted

    def _invalid_answer(self, fetch: Fetch, what: str, path: Any) -> None:
        self.errors.append(self._neutral_error(fetch, what, path))

    def _neutral_error(self, fetch: Fetch, what: str, path: Any) -> dict[str, Any]:
        name = self.subgraph_names.get(fetch.subgraph, fetch.subgraph)
        error: dict[str, Any] = {
            "message": f'Subgraph "{name}" returned {what}.',
            "extensions": {"code": "SUBGRAPH_INVALID_RESPONSE", "serviceName": name},
        }
        if path:
            error["path"] = list(path)
        return error

    def _holds(self, conditions: Conditions) -> bool:
        return all(bool(self.variables.get(name)) == expected for name, expected in conditions)

    async def _send(
        self, fetch: Fetch, variables: dict[str, Any], path: list[Any] | tuple[()]
    ) -> dict[str, Any] | None:
        transport = self.transports[fetch.subgraph]  # the router has one for every subgraph
        request = SubgraphRequest(
            subgraph=fetch.subgraph,
            query=fetch.operation,
            variables=variables,
            headers=self.headers,
            forwarded=self.forwarded,
            context=self.context,
            mutation=fetch.kind == "mutation",
        )
        try:
            if self.telemetry.active:
                name = self.subgraph_names.get(fetch.subgraph, fetch.subgraph)
                with _ObservedFetch(self.telemetry, name, fetch):
                    response = await transport.execute(request)
            else:
                response = await transport.execute(request)
        except SubgraphError as error:
            self._subgraph_failure(fetch, str(error), path, already_named=True, code=error.code)
            return None
        if self.caching is not None:
            self.caching.tags.update(announced_tags(response))
        if fetch.aliased:
            _restore_aliases(response.get("data"))
        return response

    def record_failure(self, fetch: Fetch, error: SubgraphError) -> None:
        """Report a failed call of ``fetch`` made outside this run (a subscription's stream)."""
        self._subgraph_failure(fetch, str(error), (), already_named=True, code=error.code)

    def _subgraph_failure(
        self,
        fetch: Fetch,
        reason: str,
        path: Any,
        *,
        already_named: bool = False,
        code: str = "SUBGRAPH_REQUEST_FAILED",
    ) -> None:
        name = self.subgraph_names.get(fetch.subgraph, fetch.subgraph)
        message = reason if already_named else f'Subgraph "{name}" {reason}'
        error: dict[str, Any] = {
            "message": message,
            "extensions": {"code": code, "serviceName": name},
        }
        if path:
            error["path"] = list(path)
        self.errors.append(error)

    def _representation(self, target: dict[str, Any], fetch: Fetch) -> dict[str, Any] | None:
        step = fetch.entity
        assert step is not None
        typename = step.representation_typename or target.get("__typename")
        representation: dict[str, Any] = {"__typename": typename}
        if not self._read(target, target.get("__typename"), step.representation, representation):
            return None
        return representation

    def _read(
        self,
        source: dict[str, Any],
        typename: str | None,
        selections: tuple[Selection, ...],
        into: dict[str, Any],
    ) -> bool:
        for selection in selections:
            if isinstance(selection, Fragment):
                if self.type_applies(selection.type_condition, typename or "") and not self._read(
                    source, typename, selection.selections, into
                ):
                    return False
                continue
            assert isinstance(selection, Field)
            if selection.response_key not in source:
                return False
            value = source[selection.response_key]
            if selection.selections is not None and value is not None:
                value = self._read_nested(value, selection.selections)
                if value is _MISSING:
                    return False
            into[selection.name] = value
        return True

    def _read_nested(self, value: Any, selections: tuple[Selection, ...]) -> Any:
        if isinstance(value, list):
            items = [self._read_nested(item, selections) for item in value]
            return _MISSING if any(item is _MISSING for item in items) else items
        if not isinstance(value, dict):
            return value
        nested: dict[str, Any] = {}
        typename = value.get("__typename")
        if typename is not None:
            nested["__typename"] = typename
        if not self._read(value, typename, selections, nested):
            return _MISSING
        return nested


class _ObservedFetch:
    """A fetch in its own span (its `traceparent` then goes to the subgraph), and timed.

    A plain context manager rather than a coroutine around the fetch: an extra coroutine
    frame would cost something at every resumption of the fetch's own awaits."""

    __slots__ = ("_fetch", "_name", "_span", "_started", "_telemetry")

    def __init__(self, telemetry: RouterTelemetry, name: str, fetch: Fetch) -> None:
        self._telemetry = telemetry
        self._name = name
        self._fetch = fetch
        self._span: Any = None
        self._started = 0.0

    def __enter__(self) -> None:
        tracer = self._telemetry.tracer
        if tracer is not None:
            attributes = {
                "graphql.subgraph.name": self._name,
                "graphql.operation.type": self._fetch.kind,
                "graphql.fetch.entities": self._fetch.entity is not None,
            }
            self._span = tracer.start_as_current_span(
                f"fetch {self._name}", kind=SpanKind.CLIENT, attributes=attributes
            )
            self._span.__enter__()
        self._started = time.perf_counter()

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        on_fetch = self._telemetry.on_fetch
        if on_fetch is not None:
            outcome = "ok" if error is None else getattr(error, "code", type(error).__name__)
            on_fetch(self._name, outcome, time.perf_counter() - self._started)
        if self._span is not None:
            self._span.__exit__(kind, error, traceback)


_MISSING = object()
_ALIAS_MARK = "__fa_"


def _restore_aliases(node: Any) -> None:
    """Rename ``key__fa_<type>`` aliases the planner introduced back to ``key``."""
    if isinstance(node, list):
        for item in node:
            _restore_aliases(item)
    elif isinstance(node, dict):
        for key in [k for k in node if _ALIAS_MARK in k]:
            node[key.split(_ALIAS_MARK, 1)[0]] = node.pop(key)
        for value in node.values():
            if isinstance(value, dict | list):
                _restore_aliases(value)


def _collect(
    node: Any,
    path: tuple[str, ...],
    depth: int,
    current: list[Any],
    out: list[tuple[dict[str, Any], list[Any]]],
) -> None:
    if node is None:
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            _collect(item, path, depth, [*current, index], out)
        return
    if not isinstance(node, dict):
        return
    if depth == len(path):
        out.append((node, current))
        return
    key = path[depth]
    _collect(node.get(key), path, depth + 1, [*current, key], out)


def _merge(target: dict[str, Any], source: dict[str, Any], abstract_types: frozenset[str]) -> None:
    for key, value in source.items():
        existing = target.get(key)
        if existing is None:
            target[key] = value
        elif isinstance(existing, dict) and isinstance(value, dict):
            _merge(existing, value, abstract_types)
        elif isinstance(existing, list) and isinstance(value, list):
            if len(existing) == len(value):
                for index, (old, new) in enumerate(zip(existing, value, strict=True)):
                    if isinstance(old, dict) and isinstance(new, dict):
                        _merge(old, new, abstract_types)
                    elif new is not None:
                        existing[index] = new
            else:
                target[key] = value
        elif key == "__typename" and value in abstract_types:
            continue
        else:
            target[key] = value


def _response_path(error: Any) -> list[str | int] | None:
    """An error's ``path`` when it is one (a list of keys and indexes), else None."""
    path = error.get("path") if isinstance(error, dict) else None
    if isinstance(path, list) and all(
        isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)) for key in path
    ):
        return path
    return None


def _clean_error(error: dict[str, Any], path: Any) -> dict[str, Any]:
    cleaned: dict[str, Any] = {"message": error["message"]}
    if path:
        cleaned["path"] = list(path)
    extensions = error.get("extensions")
    if isinstance(extensions, dict):
        cleaned["extensions"] = {
            k: v for k, v in extensions.items() if k not in ("exception", "stacktrace")
        }
    return cleaned
