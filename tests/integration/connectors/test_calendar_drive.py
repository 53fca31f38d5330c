"""The Calendar and Drive adapters through google-api-python-client against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sales_agent_pipeline.connectors.calendar import GoogleCalendar
from sales_agent_pipeline.connectors.drive import FOLDER, GoogleDrive
from sales_agent_pipeline.domain.errors import PermanentError


def test_busy_intervals_per_calendar(calendar: GoogleCalendar, admin):
    admin.seed(
        calendars=[
            {
                "id": "ada@ourco.example",
                "timeZone": "Europe/Paris",
                "busy": [
                    {"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T10:00:00Z"},
                    {"start": "2030-01-07T13:00:00Z", "end": "2030-01-07T14:30:00Z"},
                    {"start": "2030-01-09T09:00:00Z", "end": "2030-01-09T10:00:00Z"},
                ],
            },
            {"id": "bob@ourco.example", "busy": []},
        ]
    )
    paris = timezone(timedelta(hours=1))
    busy = calendar.busy_intervals(
        ["ada@ourco.example", "bob@ourco.example"],
        datetime(2030, 1, 7, 1, 0, tzinfo=paris),
        datetime(2030, 1, 8, 1, 0, tzinfo=paris),
    )
    ada = busy["ada@ourco.example"]
    assert [(b.start, b.end) for b in ada] == [
        (datetime(2030, 1, 7, 9, tzinfo=UTC), datetime(2030, 1, 7, 10, tzinfo=UTC)),
        (datetime(2030, 1, 7, 13, tzinfo=UTC), datetime(2030, 1, 7, 14, 30, tzinfo=UTC)),
    ]
    assert all(b.calendar_id == "ada@ourco.example" for b in ada)
    assert busy["bob@ourco.example"] == []


def test_unknown_calendar_is_permanent(calendar: GoogleCalendar, admin):
    start = datetime(2030, 1, 7, tzinfo=UTC)
    with pytest.raises(PermanentError) as caught:
        calendar.busy_intervals(["nobody@ourco.example"], start, start + timedelta(days=1))
    assert "notFound" in str(caught.value)


def _seed_drive(admin) -> None:
    admin.seed(
        drives=[{"id": "0AShared", "name": "Sales"}],
        driveFiles=[
            {"id": "root", "name": "Sales assets", "mimeType": FOLDER},
            {"id": "sub", "name": "Case studies", "mimeType": FOLDER, "parents": ["root"]},
            {"id": "deep", "name": "Archive", "mimeType": FOLDER, "parents": ["sub"]},
            {
                "id": "binned",
                "name": "Binned folder",
                "mimeType": FOLDER,
                "parents": ["root"],
                "trashed": True,
            },
            {
                "id": "f-acme",
                "name": "Acme case study.pdf",
                "parents": ["sub"],
                "modifiedTime": "2029-06-01T00:00:00Z",
            },
            {
                "id": "f-deep",
                "name": "Old acme pricing.pdf",
                "parents": ["deep"],
                "modifiedTime": "2028-01-01T00:00:00Z",
            },
            {"id": "f-onepager", "name": "One pager.pdf", "parents": ["root"]},
            # Best name matches, but outside the allowlist, trashed, or under a trashed folder.
            {"id": "f-secret", "name": "Acme case study pricing.pdf", "parents": ["elsewhere"]},
            {
                "id": "f-trashed",
                "name": "Acme case study pricing v2.pdf",
                "parents": ["sub"],
                "trashed": True,
            },
            {"id": "f-in-bin", "name": "Acme case study pricing v3.pdf", "parents": ["binned"]},
            {
                "id": "f-shared",
                "name": "Acme shared deck.pdf",
                "parents": ["0AShared"],
                "driveId": "0AShared",
            },
        ],
    )


def test_drive_walks_subfolders_and_never_leaks(drive: GoogleDrive, admin):
    _seed_drive(admin)
    assert drive.allowed_folders(["root"]) == {"root", "sub", "deep"}
    found = drive.find_files(["root"], ["acme", "pricing"])
    ids = [f.id for f in found]
    assert set(ids) == {"f-acme", "f-deep"}
    # Drive's relevance order: the file matching both terms first.
    assert ids == ["f-deep", "f-acme"]
    acme = found[1]
    assert acme.name == "Acme case study.pdf"
    assert acme.mime_type == "application/pdf"
    assert acme.web_link
    assert acme.parents == ("sub",)
    assert acme.modified_time == datetime(2029, 6, 1, tzinfo=UTC)
    everything = {f.id for f in drive.find_files(["root"], max_results=50)}
    assert everything == {"f-acme", "f-deep", "f-onepager"}


def test_drive_supports_shared_drives(drive: GoogleDrive, admin):
    _seed_drive(admin)
    found = drive.find_files(["0AShared"], ["acme"])
    assert [(f.id, f.drive_id) for f in found] == [("f-shared", "0AShared")]
    assert drive.find_files([], ["acme"]) == []
    both = {f.id for f in drive.find_files(["0AShared", "sub"], ["acme"])}
    assert both == {"f-shared", "f-acme", "f-deep"}
