"""The sandbox's Drive search: `fullText contains` and `name contains` as Drive documents
them, and relevance order for full-text queries, through google-api-python-client."""

from __future__ import annotations

from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.sandbox.clients import list_files

FOLDER = "application/vnd.google-apps.folder"


@pytest.fixture
def drive(sandbox_url: str, admin: Any) -> Any:
    admin.seed(
        driveFiles=[
            {"id": "sales", "name": "Sales", "mimeType": FOLDER},
            {
                "id": "hello",
                "name": "HelloWorld notes.pdf",
                "parents": ["sales"],
                "content": "Hello there world. Hello_world is a token pair.",
                "modifiedTime": "2029-01-01T00:00:00Z",
            },
            {
                "id": "northwind",
                "name": "Northwind 2025 review.pdf",
                "parents": ["sales"],
                "description": "Case study: a mixed robot fleet across three warehouses",
                "content": "Fleet automation in the warehouse. Fleet automation cut picking "
                "time; fleet automation runs every robot.",
                "modifiedTime": "2029-02-01T00:00:00Z",
            },
            {
                "id": "named",
                "name": "Fleet automation one-pager.pdf",
                "parents": ["sales"],
                "modifiedTime": "2029-03-01T00:00:00Z",
            },
            {
                "id": "scattered",
                "name": "Trucks.pdf",
                "parents": ["sales"],
                "content": "Automation of the truck fleet.",
                "modifiedTime": "2029-04-01T00:00:00Z",
            },
            {
                "id": "quote",
                "name": "Valentine's Day promo.pdf",
                "parents": ["sales"],
                "content": "A promo.",
                "modifiedTime": "2029-05-01T00:00:00Z",
            },
        ]
    )
    return build(
        "drive",
        "v3",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": f"{sandbox_url}/drive/v3/"},
        static_discovery=True,
        cache_discovery=False,
    )


def _ids(drive: Any, q: str, **options: Any) -> list[str]:
    return [f["id"] for f in list_files(drive, f"'sales' in parents and ({q})", **options)["files"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Whole words only: "HelloWorld" is one token, so 'Hello' finds only the content's.
        ("fullText contains 'HelloWorld'", {"hello"}),
        ("fullText contains 'Hell'", set()),
        ("fullText contains 'hello'", {"hello"}),
        # Every word, anywhere; in double quotes, the exact run of words.
        ("fullText contains 'fleet automation'", {"northwind", "named", "scattered"}),
        ("fullText contains '\"fleet automation\"'", {"northwind", "named"}),
        ("fullText contains '\"Hello there\"'", {"hello"}),
        ("fullText contains '\"Hello world\"'", {"hello"}),  # from "Hello_world"
        ("fullText contains '\"there hello\"'", set()),
        # The description is indexed too.
        ("fullText contains 'warehouses'", {"northwind"}),
        ("fullText contains 'warehouse'", {"northwind"}),  # from the content
        ("fullText contains 'robots'", set()),  # the description says "robot"
        # Escaped quote in a literal.
        ("fullText contains 'Valentine\\'s'", {"quote"}),
        # `name contains` matches word prefixes, every word of the value.
        ("name contains 'Hello'", {"hello"}),
        ("name contains 'World'", set()),
        ("name contains 'fle auto'", {"named"}),
        ("name contains 'north review'", {"northwind"}),
        ("name contains 'orthwind'", set()),
    ],
)
def test_contains_follows_drives_matching_rules(drive: Any, q: str, expected: set[str]) -> None:
    assert set(_ids(drive, q)) == expected


def test_full_text_results_come_best_match_first(drive: Any) -> None:
    # northwind: content 3 times + description: 3 + 2; named: its name (3); scattered: its
    # content once (1). The rule is in sales_agent_sandbox/drive_query.py.
    assert _ids(drive, "fullText contains 'fleet'") == ["northwind", "named", "scattered"]
    assert _ids(drive, "fullText contains 'fleet' or fullText contains 'truck'") == [
        "northwind",
        "named",
        "scattered",
    ]
    # A phrase scores double: the name's phrase (3 x 2) ties the content's three (3 x 2),
    # and a tie goes to the newest file.
    phrase = "fullText contains '\"fleet automation\"' or fullText contains 'truck'"
    assert _ids(drive, phrase) == ["named", "northwind", "scattered"]


def test_relevance_order_holds_across_pages(drive: Any) -> None:
    q = "'sales' in parents and fullText contains 'fleet'"
    page = list_files(drive, q, pageSize=2)
    ids = [f["id"] for f in page["files"]]
    page = list_files(drive, q, pageSize=2, pageToken=page["nextPageToken"])
    assert ids + [f["id"] for f in page["files"]] == ["northwind", "named", "scattered"]


def test_full_text_with_order_by_is_refused_as_drive_does(drive: Any) -> None:
    with pytest.raises(HttpError) as caught:
        list_files(drive, "fullText contains 'fleet'", orderBy="modifiedTime desc")
    assert caught.value.status_code == 403
    assert "fullText" in str(caught.value)
    # Without fullText, orderBy is honoured.
    newest = _ids(
        drive, "name contains 'fleet' or name contains 'trucks'", orderBy="modifiedTime desc"
    )
    assert newest == ["scattered", "named"]


def test_description_is_returned_when_asked(drive: Any) -> None:
    fields = "files(id, name, description)"
    found = list_files(drive, "fullText contains 'warehouses'", fields=fields)["files"]
    assert found == [
        {
            "id": "northwind",
            "name": "Northwind 2025 review.pdf",
            "description": "Case study: a mixed robot fleet across three warehouses",
        }
    ]
