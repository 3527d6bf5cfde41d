import pytest

from tests.support import stack as stack_support
from tests.support.client import Platform


def pytest_collection_modifyitems(items):
    # Integration tests share one stack; unit tests run first and need none of it.
    items.sort(key=lambda item: "integration" in str(item.fspath))
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infra_stack():
    """Kafka and FerretDB only: for tests of the plumbing that run their own processes."""
    running = stack_support.start(infra_only=True)
    yield running
    stack_support.stop(running)


@pytest.fixture(scope="session")
def running_stack(infra_stack):
    stack_support.start_services(infra_stack)
    return infra_stack


@pytest.fixture(scope="session")
async def platform(running_stack):
    client = Platform(running_stack.base_url, stack_support.ADMIN_ID, stack_support.ADMIN_SECRET)
    yield client
    await client.close()


@pytest.fixture
async def operator(platform):
    return await platform.operator()


@pytest.fixture
async def org(platform):
    organization = await platform.new_organization()
    yield organization
    await organization.client.aclose()
