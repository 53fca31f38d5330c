"""Assets by content: the Drive adapter's full-text search through google-api-python-client
against the sandbox, and step 7 over it."""

from __future__ import annotations

from typing import Any

from sales_agent_pipeline.connectors.drive import FOLDER, GoogleDrive
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.steps.hunt_drive_assets import hunt_drive_assets

ROBOTICS = Lead(
    email="jordan.lee@acme-robotics.example",
    email_domain="acme-robotics.example",
    industry="Robotics",
    interest="We want fleet automation for our warehouses, ideally before peak season.",
    job_title="VP Operations",
)
GERMAN = Lead(
    email="jonas@krueger-logistik.example",
    email_domain="krueger-logistik.example",
    industry="Logistik",
    interest="Guten Tag, wir interessieren uns für Lagerautomatisierung in unseren Lagern.",
)


def _seed(admin: Any) -> None:
    admin.seed(
        driveFiles=[
            {"id": "sales", "name": "Sales assets", "mimeType": FOLDER},
            {"id": "cases", "name": "Cases", "mimeType": FOLDER, "parents": ["sales"]},
            # Its name says nothing; its content and description say everything.
            {
                "id": "f-northwind",
                "name": "Northwind 2025 review.pdf",
                "parents": ["cases"],
                "description": "Case study: a mixed robot fleet in three warehouses.",
                "content": "Northwind automated three warehouses. Fleet automation assigns "
                "picks to robots and people; picking is 38 percent faster.",
                "modifiedTime": "2029-01-01T00:00:00Z",
            },
            # Only a word of the message, in its name.
            {
                "id": "f-overview",
                "name": "Automation overview.pdf",
                "parents": ["sales"],
                "modifiedTime": "2029-06-01T00:00:00Z",
            },
            {
                "id": "f-krueger",
                "name": "Fallstudie Spedition Krüger.pdf",
                "parents": ["cases"],
                "description": "Fallstudie: Lagerautomatisierung bei Spedition Krüger.",
                "content": "Lagerautomatisierung mit fahrerlosen Transportsystemen.",
            },
            {"id": "f-party", "name": "Holiday party.pdf", "parents": ["sales"]},
            # The best match of all, outside the allowlisted folders.
            {"id": "internal", "name": "Internal", "mimeType": FOLDER},
            {
                "id": "f-pricing",
                "name": "Robotics fleet automation warehouses pricing.pdf",
                "parents": ["internal"],
                "description": "Fleet automation for warehouses: internal robotics pricing.",
                "content": "Fleet automation warehouses robotics. Fleet automation. Robotics.",
            },
        ]
    )


def test_full_text_search_finds_by_content_in_relevance_order(drive: GoogleDrive, admin):
    _seed(admin)
    found = drive.find_files(["sales"], ["fleet automation", "warehouses"])
    assert [f.id for f in found] == ["f-northwind"]
    northwind = found[0]
    assert northwind.description == "Case study: a mixed robot fleet in three warehouses."
    assert northwind.parents == ("cases",)
    # Drive's relevance order, not the newest first: the overview is newer.
    both = drive.find_files(["sales"], ["fleet", "automation"])
    assert [f.id for f in both] == ["f-northwind", "f-overview"]
    assert both[1].description is None


def test_a_better_match_outside_the_allowlist_is_never_returned(drive: GoogleDrive, admin):
    _seed(admin)
    terms = ["robotics", "fleet automation", "warehouses", "pricing"]
    assert "f-pricing" not in {f.id for f in drive.find_files(["sales"], terms, max_results=50)}
    # It is there to be found: from its own folder, it comes first.
    assert drive.find_files(["internal"], terms)[0].id == "f-pricing"


def test_step_7_offers_the_content_match_above_a_name_only_match(drive: GoogleDrive, admin):
    _seed(admin)
    chosen = hunt_drive_assets(drive, ROBOTICS, ["sales"])
    assert [f.id for f in chosen.ranked] == ["f-northwind", "f-overview"]
    assert chosen.chosen is not None
    assert chosen.chosen.description == "Case study: a mixed robot fleet in three warehouses."


def test_step_7_finds_the_german_described_asset_for_a_german_message(drive: GoogleDrive, admin):
    _seed(admin)
    chosen = hunt_drive_assets(drive, GERMAN, ["sales"])
    assert [f.id for f in chosen.ranked] == ["f-krueger"]


def test_step_7_over_the_demo_drive(drive: GoogleDrive, admin):
    described = admin.reset(demo=True)["demo"]["drive"]
    chosen = hunt_drive_assets(drive, ROBOTICS, described["allowlistFolderIds"])
    ids = [f.id for f in chosen.ranked]
    assert ids[0] == "file-cs-northwind"  # found by its content, its name says nothing
    assert not set(ids) & set(described["trashedFileIds"] + described["outsideAllowlistFileIds"])
    assert all(f.description and "\n" not in f.description for f in chosen.ranked)
