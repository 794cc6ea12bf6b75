"""A stub model server on loopback for the provider tests (one per test process)."""

from collections.abc import Iterator

import pytest

from runplane.outbound import Policy
from runplane.providers.retrying import RetryPolicy
from runplane.testing.model_stubs import ModelStub

# Loopback is an internal address: the fence must let the tests reach their stub.
LOOPBACK = Policy(allow_private=True)
# Quick retries: the tests count attempts, not seconds.
QUICK = RetryPolicy(attempts=3, base_delay=0.01, max_delay=2.0)


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelStub]:
    with ModelStub() as stub:
        yield stub


@pytest.fixture
def stub(model_server: ModelStub) -> Iterator[ModelStub]:
    """The stub, its script and records empty."""
    model_server.reset()
    yield model_server
    model_server.reset()
