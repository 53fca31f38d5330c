"""The webhook's tests of the marker: the API's fixtures (a tenant of its own per test)."""

from tests.integration.api.conftest import box, client, settings, tenant  # noqa: F401
