"""``client.assistants``: every assistant route through the official async SDK."""

import uuid

import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError
from lgsdk import new_id

TENANT = "assistants"
GRAPHS = {"lg_echo", "lg_steps5", "chat", "approval", "counter"}


async def test_each_graph_has_a_default_assistant_named_after_it(lg: LangGraphClient) -> None:
    for graph_id in GRAPHS:
        by_name = await lg.assistants.get(graph_id)
        assert by_name["graph_id"] == graph_id and by_name["name"] == graph_id
        uuid.UUID(by_name["assistant_id"])  # a UUID, not the graph's name
        by_id = await lg.assistants.get(by_name["assistant_id"])
        assert by_id["assistant_id"] == by_name["assistant_id"]
        assert by_id["version"] == by_name["version"]

    found = await lg.assistants.search(metadata={"created_by": "system"}, limit=100)
    assert {a["graph_id"] for a in found} >= GRAPHS


async def test_create_returns_every_field_given(lg: LangGraphClient) -> None:
    created = await lg.assistants.create(
        "lg_echo",
        config={"configurable": {"style": "loud"}},
        context={"user": "ada"},
        metadata={"team": "a", "case": "create"},
        name="Loud echo",
        description="echoes loudly",
    )
    uuid.UUID(created["assistant_id"])
    assert created["graph_id"] == "lg_echo"
    assert created["config"]["configurable"] == {"style": "loud"}
    assert created["context"] == {"user": "ada"}
    assert created["metadata"] == {"team": "a", "case": "create"}
    assert created["name"] == "Loud echo"
    assert created["description"] == "echoes loudly"
    assert created["version"] == 1
    assert created["created_at"] and created["updated_at"]

    got = await lg.assistants.get(created["assistant_id"])
    for field in ("assistant_id", "graph_id", "config", "context", "metadata", "name", "version"):
        assert got[field] == created[field], field


async def test_create_with_an_existing_id_raises_409_or_returns_it_with_do_nothing(
    lg: LangGraphClient,
) -> None:
    assistant_id = new_id()
    first = await lg.assistants.create(
        "lg_echo", assistant_id=assistant_id, name="first", metadata={"case": "exists"}
    )
    assert first["assistant_id"] == assistant_id

    with pytest.raises(ConflictError) as err:
        await lg.assistants.create("lg_echo", assistant_id=assistant_id, name="second")
    assert err.value.status_code == 409
    with pytest.raises(ConflictError):
        await lg.assistants.create(
            "lg_echo", assistant_id=assistant_id, name="second", if_exists="raise"
        )

    same = await lg.assistants.create(
        "lg_echo", assistant_id=assistant_id, name="second", if_exists="do_nothing"
    )
    assert same["assistant_id"] == assistant_id
    assert same["name"] == "first" and same["version"] == 1


async def test_create_for_an_unknown_graph_is_refused(lg: LangGraphClient) -> None:
    with pytest.raises(Exception) as err:
        await lg.assistants.create("no_such_graph")
    status = err.value.response.status_code  # type: ignore[attr-defined]
    assert 400 <= status < 500, status


async def test_update_makes_a_new_version_and_merges_metadata(lg: LangGraphClient) -> None:
    created = await lg.assistants.create(
        "lg_echo", name="v1 name", metadata={"keep": 1}, config={"configurable": {"n": 1}}
    )
    aid = created["assistant_id"]

    updated = await lg.assistants.update(
        aid, name="v2 name", metadata={"added": 2}, config={"configurable": {"n": 2}}
    )
    assert updated["assistant_id"] == aid
    assert updated["version"] == 2
    assert updated["name"] == "v2 name"
    assert updated["metadata"] == {"keep": 1, "added": 2}
    assert updated["config"]["configurable"] == {"n": 2}

    got = await lg.assistants.get(aid)
    assert got["version"] == 2 and got["name"] == "v2 name"


async def test_get_versions_lists_newest_first_and_set_latest_restores_a_version(
    lg: LangGraphClient,
) -> None:
    created = await lg.assistants.create(
        "lg_echo", name="one", metadata={"v": "one"}, config={"configurable": {"n": 1}}
    )
    aid = created["assistant_id"]
    await lg.assistants.update(aid, name="two", config={"configurable": {"n": 2}})
    await lg.assistants.update(aid, name="three", config={"configurable": {"n": 3}})

    versions = await lg.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["name"] for v in versions] == ["three", "two", "one"]
    assert all(v["assistant_id"] == aid and v["graph_id"] == "lg_echo" for v in versions)
    assert [v["version"] for v in await lg.assistants.get_versions(aid, limit=1, offset=1)] == [2]

    restored = await lg.assistants.set_latest(aid, 1)
    assert restored["assistant_id"] == aid
    assert restored["version"] == 1
    assert restored["name"] == "one"
    assert restored["config"]["configurable"] == {"n": 1}
    got = await lg.assistants.get(aid)
    assert got["version"] == 1 and got["name"] == "one"

    with pytest.raises(NotFoundError):
        await lg.assistants.set_latest(aid, 99)


async def test_delete_then_get_is_404(lg: LangGraphClient) -> None:
    created = await lg.assistants.create("lg_echo", name="doomed")
    await lg.assistants.delete(created["assistant_id"])
    with pytest.raises(NotFoundError) as err:
        await lg.assistants.get(created["assistant_id"])
    assert err.value.status_code == 404
    with pytest.raises(NotFoundError):
        await lg.assistants.delete(created["assistant_id"])


async def test_search_by_graph_metadata_and_name_with_paging_and_count(
    lg: LangGraphClient,
) -> None:
    tag = uuid.uuid4().hex[:8]
    made = [
        await lg.assistants.create(
            "lg_steps5", name=f"search-{tag}-{i}", metadata={"tag": tag, "i": i}
        )
        for i in range(3)
    ]
    ids = {a["assistant_id"] for a in made}

    by_meta = await lg.assistants.search(metadata={"tag": tag})
    assert {a["assistant_id"] for a in by_meta} == ids
    one = await lg.assistants.search(metadata={"tag": tag, "i": 1})
    assert [a["assistant_id"] for a in one] == [made[1]["assistant_id"]]

    by_graph = await lg.assistants.search(graph_id="lg_steps5", limit=100)
    assert ids <= {a["assistant_id"] for a in by_graph}
    assert all(a["graph_id"] == "lg_steps5" for a in by_graph)
    assert not await lg.assistants.search(graph_id="lg_echo", metadata={"tag": tag})

    by_name = await lg.assistants.search(name=f"search-{tag}-2")
    assert [a["assistant_id"] for a in by_name] == [made[2]["assistant_id"]]
    # the name filter is a case-insensitive substring match
    assert {a["assistant_id"] for a in await lg.assistants.search(name=f"SEARCH-{tag}")} == ids

    page1 = await lg.assistants.search(metadata={"tag": tag}, limit=2, offset=0)
    page2 = await lg.assistants.search(metadata={"tag": tag}, limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 1
    assert {a["assistant_id"] for a in page1 + page2} == ids

    assert await lg.assistants.count(metadata={"tag": tag}) == 3
    assert await lg.assistants.count(graph_id="lg_steps5", metadata={"tag": tag}) == 3
    assert await lg.assistants.count(graph_id="chat", metadata={"tag": tag}) == 0
    assert await lg.assistants.count(graph_id="lg_steps5") == len(by_graph)


async def test_get_graph_gives_nodes_and_edges(lg: LangGraphClient) -> None:
    for ref in ("lg_echo", (await lg.assistants.get("lg_echo"))["assistant_id"]):
        graph = await lg.assistants.get_graph(ref)
        assert {n["id"] for n in graph["nodes"]} == {"__start__", "echo", "__end__"}
        edges = {(e["source"], e["target"]) for e in graph["edges"]}
        assert edges == {("__start__", "echo"), ("echo", "__end__")}

    steps = await lg.assistants.get_graph("lg_steps5", xray=True)
    assert {f"s{i}" for i in range(1, 6)} <= {n["id"] for n in steps["nodes"]}


async def test_get_schemas_gives_every_schema_key(lg: LangGraphClient) -> None:
    for graph_id in ("lg_echo", "counter"):
        schemas = await lg.assistants.get_schemas(graph_id)
        assert schemas["graph_id"] == graph_id
        for key in (
            "input_schema",
            "output_schema",
            "state_schema",
            "config_schema",
            "context_schema",
        ):
            assert key in schemas, key
        # The graphs' states are ``typing.TypedDict``s, which pydantic cannot turn into a
        # JSON Schema on Python 3.11: LangGraph itself gives None for them then.
        for key in ("input_schema", "output_schema", "state_schema"):
            schema = schemas[key]
            assert schema is None or isinstance(schema.get("properties"), dict), (key, schema)
        assert isinstance(schemas["config_schema"], dict)


async def test_get_subgraphs_of_a_flat_graph_is_empty(lg: LangGraphClient) -> None:
    assert await lg.assistants.get_subgraphs("lg_echo") == {}
    assert await lg.assistants.get_subgraphs("lg_steps5", recurse=True) == {}


async def test_unknown_assistant_is_404_on_every_route(lg: LangGraphClient) -> None:
    missing = new_id()
    calls = [
        lg.assistants.get(missing),
        lg.assistants.update(missing, name="x"),
        lg.assistants.delete(missing),
        lg.assistants.get_graph(missing),
        lg.assistants.get_schemas(missing),
        lg.assistants.get_subgraphs(missing),
        lg.assistants.get_versions(missing),
        lg.assistants.set_latest(missing, 1),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            await call


async def test_get_subgraphs_of_a_namespace(lg: LangGraphClient) -> None:
    assert await lg.assistants.get_subgraphs("lg_echo", namespace="echo") == {}


async def test_search_select_sort_and_pagination_cursor(lg: LangGraphClient) -> None:
    tag = uuid.uuid4().hex[:8]
    for name in ("b", "c", "a"):
        await lg.assistants.create("lg_echo", name=f"{name}-{tag}", metadata={"sel": tag})

    selected = await lg.assistants.search(metadata={"sel": tag}, select=["assistant_id", "name"])
    assert len(selected) == 3
    assert all(set(a) == {"assistant_id", "name"} for a in selected)

    ascending = await lg.assistants.search(metadata={"sel": tag}, sort_by="name", sort_order="asc")
    assert [a["name"] for a in ascending] == [f"a-{tag}", f"b-{tag}", f"c-{tag}"]
    descending = await lg.assistants.search(
        metadata={"sel": tag}, sort_by="name", sort_order="desc"
    )
    assert [a["name"] for a in descending] == [f"c-{tag}", f"b-{tag}", f"a-{tag}"]

    page = await lg.assistants.search(metadata={"sel": tag}, limit=2, response_format="object")
    assert len(page["assistants"]) == 2
    assert page["next"] == "2"
    last = await lg.assistants.search(
        metadata={"sel": tag}, limit=2, offset=2, response_format="object"
    )
    assert len(last["assistants"]) == 1 and last["next"] is None


async def test_update_can_change_context_and_description(lg: LangGraphClient) -> None:
    created = await lg.assistants.create("lg_echo", context={"a": 1}, description="first")
    updated = await lg.assistants.update(
        created["assistant_id"], context={"a": 2}, description="second"
    )
    assert updated["context"] == {"a": 2}
    assert updated["description"] == "second"
    assert updated["version"] == 2
