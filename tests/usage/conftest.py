"""The usage tests run on the session's one app (DBOS is one per process: a second app in
the same process would take the other's workflows), with the agents of
``usage_agents.py`` added to its project and ``MeteredProvider`` as the server's provider
for the length of each test."""

from collections.abc import Iterator

import pytest
import usage_agents
from usage_agents import MeteredProvider

from runplane.agents.registry import add_agent
from runplane.agents.spec import AGENT_ATTR
from runplane.services.runtime import Runtime


@pytest.fixture(autouse=True)
def provider(rt: Runtime) -> Iterator[MeteredProvider]:
    """The server's model provider while the test runs: it counts its calls."""
    for value in vars(usage_agents).values():
        spec = getattr(value, AGENT_ATTR, None)
        if spec is not None and spec.fn is value:
            add_agent(rt.project, spec)  # the same spec again is no change
    rt.synced_tenants.clear()  # tenants made earlier in the session learn of them too
    metered = MeteredProvider()
    before = rt.hooks.provider, rt.hooks.models.server
    # The server's own provider: the one a catalogue model of OpenAI's is routed to.
    rt.hooks.provider = rt.hooks.models.server = metered
    yield metered
    rt.hooks.provider, rt.hooks.models.server = before
