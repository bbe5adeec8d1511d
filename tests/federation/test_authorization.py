"""``@authenticated``, ``@requiresScopes`` and ``@policy`` enforced by the router, as Apollo
Router enforces them: removed before planning (no fetch: counted at the subgraphs), null in
the answer with one ``UNAUTHORIZED_FIELD_OR_TYPE`` error per removed path, the rest intact.

The supergraph is composed from two strawberry subgraphs that declare the rules on fields,
object types, an interface's implementation, an enum and a scalar, and both are served over
HTTP (and WebSocket, for the subscription) on loopback.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from federation.composition import SubgraphSource, compose, load_sdl_from_module
from federation.router import RequestOptions, Router, Supergraph, build_app
from federation.router.authorization import ANONYMOUS, AuthorizationContext
from tests.federation.conftest import free_port

pytestmark = pytest.mark.asyncio

MODULES = {
    "accounts": "tests.federation.subgraphs.guarded_accounts:schema",
    "reviews": "tests.federation.subgraphs.guarded_reviews:schema",
}
UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"


class _Counting:
    """Counts the GraphQL requests and WebSocket connections each subgraph receives."""

    def __init__(self, app: ASGIApp, name: str, counts: Counter[str]) -> None:
        self.app, self.name, self.counts = app, name, counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            self.counts[self.name] += 1
        elif scope["type"] == "websocket":
            self.counts[f"{self.name}:ws"] += 1
        await self.app(scope, receive, send)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        return None


class Subgraphs:
    def __init__(self, urls: dict[str, str], counts: Counter[str]) -> None:
        self.urls = urls
        self.counts = counts

    def reset(self) -> None:
        self.counts.clear()


@pytest.fixture(scope="module")
def subgraphs() -> Iterator[Subgraphs]:
    from tests.federation.subgraphs import guarded_accounts, guarded_reviews

    counts: Counter[str] = Counter()
    schemas = {"accounts": guarded_accounts.schema, "reviews": guarded_reviews.schema}
    app = Starlette(
        routes=[
            Mount(f"/{name}", _Counting(GraphQL(schema), name, counts))
            for name, schema in schemas.items()
        ]
    )
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the subgraphs did not start"
        time.sleep(0.02)
    yield Subgraphs({name: f"http://127.0.0.1:{port}/{name}/" for name in schemas}, counts)
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def supergraph(subgraphs: Subgraphs) -> Supergraph:
    sources = [
        SubgraphSource(name, subgraphs.urls[name], load_sdl_from_module(module))
        for name, module in MODULES.items()
    ]
    return Supergraph.from_sdl(compose(sources).supergraph_sdl)


@pytest.fixture
async def router(supergraph: Supergraph, subgraphs: Subgraphs) -> AsyncIterator[Router]:
    router = Router(supergraph, deduplicate_fetches=False)
    subgraphs.reset()
    yield router
    await router.aclose()


def caller(*scopes: str, policies: tuple[str, ...] = (), authenticated: bool = True):
    decided: list[frozenset[str]] = []

    def decide(names: frozenset[str]) -> set[str]:
        decided.append(names)
        return set(policies)

    context = AuthorizationContext(authenticated, frozenset(scopes), decide)
    return context, decided


def unauthorized(*path: str) -> dict[str, Any]:
    return {
        "message": "Unauthorized field or type",
        "path": list(path),
        "extensions": {"code": UNAUTHORIZED},
    }


USER = '{ user(id: "u1") { name email reviews { body } } }'


async def test_an_anonymous_caller_gets_nulls_and_one_error_per_removed_path(router, subgraphs):
    answer = await router.execute(USER)
    assert answer == {
        "errors": [unauthorized("user", "email"), unauthorized("user", "reviews", "@")],
        "data": {"user": {"name": "Ada", "email": None, "reviews": None}},
    }
    assert subgraphs.counts == {"accounts": 1}, "the removed reviews caused a fetch"


async def test_a_caller_holding_the_scopes_gets_everything_from_both_subgraphs(router, subgraphs):
    context, _ = caller("read:email", "read:reviews")
    answer = await router.execute(USER, authorization=context)
    assert answer == {
        "data": {
            "user": {
                "name": "Ada",
                "email": "ada@example.com",
                "reviews": [{"body": "Sharp"}, {"body": "Kind"}],
            }
        }
    }
    assert subgraphs.counts == {"accounts": 1, "reviews": 1}


async def test_an_operation_left_with_nothing_is_answered_without_any_fetch(router, subgraphs):
    answer = await router.execute("{ me { name } payroll { total } }")
    assert answer == {"data": {}, "errors": [unauthorized("me"), unauthorized("payroll")]}
    # A field whose every sub-field is removed goes too, as Apollo Router removes it.
    answer = await router.execute('{ user(id: "u1") { salary } }')
    assert answer == {"data": {}, "errors": [unauthorized("user", "salary")]}
    assert subgraphs.counts == {}


async def test_a_rule_on_an_object_type_a_scalar_and_an_enum_applies_where_they_are_returned(
    router,
):
    document = '{ payroll { total } user(id: "u2") { badge clearance name } }'
    answer = await router.execute(document)
    assert answer["data"] == {
        "payroll": None,
        "user": {"badge": None, "clearance": None, "name": "Bob"},
    }
    assert answer["errors"] == [
        unauthorized("payroll"),
        unauthorized("user", "badge"),
        unauthorized("user", "clearance"),
    ]
    context, _ = caller("badges")
    signed_in = await router.execute(document, authorization=context)
    assert signed_in == {
        "data": {
            "payroll": {"total": 190},
            "user": {"badge": "B-u2", "clearance": "HIGH", "name": "Bob"},
        }
    }


async def test_a_removed_non_null_field_nulls_its_parent(router):
    answer = await router.execute('{ user(id: "u1") { code name } users { id } }')
    assert answer == {
        "errors": [unauthorized("user", "code")],
        "data": {"user": None, "users": [{"id": "u1"}, {"id": "u2"}]},
    }


async def test_scopes_are_an_or_of_ands_and_policies_too(router):
    document = '{ user(id: "u1") { name salary } }'
    outcomes = {}
    for policies in [(), ("finance",), ("manager",), ("finance", "manager"), ("hr",)]:
        context, decided = caller(policies=policies)
        answer = await router.execute(document, authorization=context)
        outcomes[policies] = answer["data"]["user"]["salary"]
        assert decided == [frozenset({"hr", "finance", "manager"})]
    assert outcomes == {
        (): None,
        ("finance",): None,
        ("manager",): None,
        ("finance", "manager"): 100,
        ("hr",): 100,
    }


async def test_policies_are_decided_only_for_operations_that_mention_them(router):
    context, decided = caller("read:email")
    await router.execute('{ user(id: "u1") { name email } }', authorization=context)
    assert decided == []


async def test_reading_an_interface_needs_what_every_implementation_needs(router, subgraphs):
    answer = await router.execute("{ posts { id title } publicPosts { title } }")
    assert answer == {
        "errors": [unauthorized("posts", "@")],
        "data": {"posts": None, "publicPosts": [{"title": "Open"}]},
    }
    signed_in = await router.execute(
        "{ posts { id title } }", authorization=AuthorizationContext(authenticated=True)
    )
    assert signed_in == {
        "data": {"posts": [{"id": "p1", "title": "Open"}, {"id": "p2", "title": "Closed"}]}
    }


async def test_a_fragment_on_a_protected_type_is_removed_and_its_fields_are_null(router):
    document = """{ posts { __typename ... on PublicPost { title } ...Private } }
    fragment Private on PrivatePost { audience }"""
    answer = await router.execute(document)
    assert answer == {
        "errors": [unauthorized("posts", "@", "... on PrivatePost")],
        "data": {
            "posts": [
                {"__typename": "PublicPost", "title": "Open"},
                {"__typename": "PrivatePost", "audience": None},
            ]
        },
    }


async def test_a_removed_key_field_is_still_used_for_the_join_but_not_shown(router, subgraphs):
    context, _ = caller("read:reviews")
    answer = await router.execute(
        '{ user(id: "u1") { code reviewCount } }',
        authorization=AuthorizationContext(False, frozenset({"read:reviews"})),
    )
    assert answer == {"errors": [unauthorized("user", "code")], "data": {"user": None}}
    answer = await router.execute(
        '{ user(id: "u2") { reviewCount reviews { body } } }', authorization=context
    )
    assert answer == {"data": {"user": {"reviewCount": 1, "reviews": [{"body": "Late"}]}}}


async def test_paths_name_aliases_and_skipped_removals_are_not_reported(router):
    document = """query($withEmail: Boolean!) {
      who: user(id: "u1") { mail: email name }
      again: user(id: "u2") { email @include(if: $withEmail) name }
    }"""
    answer = await router.execute(document, {"withEmail": False})
    assert answer == {
        "errors": [unauthorized("who", "mail")],
        "data": {"who": {"mail": None, "name": "Ada"}, "again": {"name": "Bob"}},
    }
    answer = await router.execute(document, {"withEmail": True})
    assert answer["errors"] == [unauthorized("who", "mail"), unauthorized("again", "email")]


async def test_a_removed_mutation_is_never_sent_and_the_others_run(router, subgraphs):
    document = 'mutation { deleteReview(body: "Late") likeReview(body: "Kind") }'
    answer = await router.execute(document)
    assert answer == {
        "errors": [unauthorized("deleteReview")],
        "data": {"deleteReview": None, "likeReview": 4},
    }
    assert subgraphs.counts == {"reviews": 1}
    context, _ = caller("admin")
    assert (await router.execute(document, authorization=context))["data"] == {
        "deleteReview": True,
        "likeReview": 4,
    }


async def test_the_plan_shown_is_the_filtered_one(router):
    answer = await router.execute(USER, include_plan=True)
    subgraphs_called = {fetch["subgraph"] for fetch in answer["extensions"]["queryPlan"]["fetches"]}
    assert subgraphs_called == {"ACCOUNTS"}
    assert "email" not in str(answer["extensions"]["queryPlan"])


async def test_filtered_operations_are_cached_per_grant_not_per_request(router):
    prepared = router.prepare(USER)
    first = await router.authorize(prepared, ANONYMOUS)
    again = await router.authorize(prepared, AuthorizationContext())
    other, _ = caller("read:email")
    scoped = await router.authorize(prepared, other)
    irrelevant, _ = caller("unrelated", "scopes")
    assert first is again
    assert scoped is not first
    assert await router.authorize(prepared, irrelevant) is first
    everything, _ = caller("read:email", "read:reviews", "more")
    assert await router.authorize(prepared, everything) is prepared


async def test_a_subscription_is_filtered_and_a_removed_one_never_opens_upstream(router, subgraphs):
    stream = await router.subscribe(
        "subscription { reviewed(count: 2) { body moderatorNote } }", None, None
    )
    events = [event.payload async for event in stream][:2]  # then the subgraph's end
    assert events == [
        {
            "errors": [unauthorized("reviewed", "moderatorNote")],
            "data": {"reviewed": {"body": f"review {n}", "moderatorNote": None}},
        }
        for n in range(2)
    ]
    subgraphs.reset()
    refused = await router.subscribe("subscription { moderation { body } }", None, None)
    assert refused == {"errors": [unauthorized("moderation")]}
    assert subgraphs.counts == {}
    context, _ = caller("moderate")
    allowed = await router.subscribe(
        "subscription { moderation { body moderatorNote } }",
        None,
        None,
        options=RequestOptions(authorization=context),
    )
    assert [event.payload async for event in allowed][:1] == [
        {"data": {"moderation": {"body": "flagged", "moderatorNote": "hidden"}}}
    ]


async def test_over_http_the_app_answers_with_the_options_authorization(supergraph, subgraphs):
    context, _ = caller("read:email")
    answers = {}
    for name, options in {
        "anonymous": RequestOptions(),
        "scoped": RequestOptions(authorization=context),
    }.items():
        router = Router(supergraph)
        app = build_app(router, options=options)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            response = await client.post(
                "/graphql",
                json={"query": '{ user(id: "u1") { name email } }'},
                headers={"accept": "application/graphql-response+json"},
            )
        await router.aclose()
        assert response.status_code == 200
        answers[name] = response.json()
    assert answers == {
        "anonymous": {
            "errors": [unauthorized("user", "email")],
            "data": {"user": {"name": "Ada", "email": None}},
        },
        "scoped": {"data": {"user": {"name": "Ada", "email": "ada@example.com"}}},
    }
