"""How a vendor request is named in the usage counters: a bounded operation and its answer."""

from __future__ import annotations

import httplib2
import hubspot
import pytest
import urllib3.exceptions
from googleapiclient.errors import HttpError
from hubspot.crm.contacts import ApiException

from sales_agent_pipeline.connectors.hubspot_client import operation_name
from sales_agent_pipeline.connectors.metering import (
    MAX_METRIC_CHARS,
    request_metric,
    request_status,
)
from sales_agent_pipeline.db.repositories.metrics import parse_request_metric
from sales_agent_pipeline.domain.effects import Unreachable
from sales_agent_pipeline.domain.errors import TransientError


def test_hubspot_operations_are_named_by_the_sdk_method_never_a_url() -> None:
    crm = hubspot.Client.create(access_token="unused").crm
    assert operation_name(crm.contacts.batch_api.upsert) == "contacts.batch.upsert"
    assert operation_name(crm.contacts.basic_api.get_by_id) == "contacts.get_by_id"
    assert operation_name(crm.companies.search_api.do_search) == "companies.search"
    assert operation_name(crm.companies.basic_api.create) == "companies.create"
    assert operation_name(crm.associations.v4.basic_api.create_default) == (
        "associations.create_default"
    )
    assert operation_name(crm.owners.owners_api.get_page) == "owners.get_page"
    assert operation_name(crm.objects.tasks.basic_api.create) == "tasks.create"
    assert operation_name(crm.objects.tasks.batch_api.read) == "tasks.batch.read"
    assert operation_name(crm.objects.tasks.search_api.do_search) == "tasks.search"
    assert operation_name(crm.objects.notes.basic_api.create) == "notes.create"


def _google_error(status: int) -> HttpError:
    return HttpError(httplib2.Response({"status": status}), b"{}", uri="https://x/y")


def _wrapped(cause: BaseException, error: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as raised:
        return raised


def _read_timeout() -> BaseException:
    # urllib3's own exception, as the HubSpot SDK raises it (no pool needed to name it).
    return urllib3.exceptions.ReadTimeoutError(None, "/", "read")  # type: ignore[arg-type]


def _refused() -> BaseException:
    return urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TransientError("HTTP 503", http_status=503), "503"),
        (_wrapped(_google_error(429), TransientError("Gmail: 429")), "429"),
        (ApiException(status=404, reason="Not Found"), "404"),
        (_wrapped(TimeoutError("timed out"), TransientError("timed out")), "timeout"),
        (_wrapped(_read_timeout(), TransientError("x")), "timeout"),
        (_wrapped(ConnectionRefusedError(), Unreachable("cannot connect")), "unreachable"),
        (_refused(), "unreachable"),
        (ValueError("something else"), "error"),
    ],
)
def test_a_failed_request_is_counted_by_its_answer(error: BaseException, status: str) -> None:
    assert request_status(error) == status


def test_the_counter_name_fits_the_usage_column_and_parses_back() -> None:
    name = request_metric("hubspot", "associations.create_default", "unreachable")
    assert len(name) <= MAX_METRIC_CHARS
    assert parse_request_metric(name) == ("hubspot", "associations.create_default", "unreachable")
    long = request_metric("calendar", "x" * 80, "unreachable")
    assert len(long) == MAX_METRIC_CHARS
    assert long.endswith(".unreachable")
    assert parse_request_metric("vendor_calls.hubspot") is None
    assert parse_request_metric("vendor_requests.gmail.drafts.create.200") == (
        "gmail",
        "drafts.create",
        "200",
    )
