"""CSV uploads of any bytes (odd cells, NUL, quotes, newlines, long fields, wrong encodings):
never a 5xx, and rows only for a 201, exactly the ones it reports accepted."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from sales_agent_pipeline.db.models import Tenant
from tests.integration.api.operator_support import bearer, key_for
from tests.property.conftest import Ledger, fuzz_settings
from tests.property.deliveries import odd_text

headers = st.lists(
    st.sampled_from(["email", "Email Address", "First Name", "company", "notes"]) | odd_text,
    min_size=1,
    max_size=5,
)
cells = (
    st.sampled_from(["ana@acme.example", "bo@@broken", "", "NA", "0042"])
    | st.emails().map(str)
    | odd_text
    | st.sampled_from(["a,b", 'say "hi"', "two\nlines", "x" * 300])
)


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """A CSV written by the csv module from odd headers and cells, encoded well or badly, or
    raw bytes."""
    names = draw(headers)
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(names) + 1), max_size=6))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    writer.writerows(rows)
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "raw"]))
    if encoding == "raw":
        return draw(st.binary(max_size=200))
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


@pytest.fixture(scope="module")
def admin(engine: Engine, portal: Tenant) -> dict[str, str]:
    """An admin key of the module's tenant."""
    return bearer(key_for(engine, portal, admin=True, name="fuzz"))


@fuzz_settings(max_examples=400)
@given(data=files())
def test_no_upload_gets_a_5xx_nor_stores_rows_it_does_not_report(
    app_client: TestClient, admin: dict[str, str], ledger: Ledger, data: bytes
) -> None:
    answer = app_client.post(
        "/api/imports", files={"file": ("leads.csv", data, "text/csv")}, headers=admin
    )
    assert answer.status_code < 500, answer.text
    if answer.status_code == 201:
        ledger.add(answer.json()["rows_accepted"])
    else:
        assert set(answer.json()) == {"error"}, answer.text
    assert ledger.unchanged(), (answer.status_code, answer.text)
