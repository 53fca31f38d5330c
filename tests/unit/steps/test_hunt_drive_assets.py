"""Step 7: the most relevant files, from the tenant's allowlisted Drive folders only."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile
from sales_agent_pipeline.ports.vendors import Drive
from sales_agent_pipeline.steps.hunt_drive_assets import hunt_drive_assets, lead_terms, rank_assets
from tests.fakes import FakeDrive
from tests.unit.steps.examples import LEAD, lead

GERMAN = lead(
    "jonas@krueger-logistik.example",
    industry="Logistik",
    interest="Hallo, wir suchen eine Lösung für die Lagerautomatisierung in unseren zwei Lagern.",
    job_title="Leiter Intralogistik",
)


def asset(name: str, description: str | None = None, days_old: int = 10) -> DriveFile:
    """A PDF (its id is its name) modified `days_old` days before 1 November 2026."""
    return DriveFile(
        id=name,
        name=name,
        description=description,
        mime_type="application/pdf",
        web_link=f"https://drive.example/{name}",
        modified_time=datetime(2026, 11, 1, tzinfo=UTC) - timedelta(days=days_old),
    )


def ranked(
    who: Lead, files: list[DriveFile], returned_for: Mapping[str, set[str]] | None = None
) -> list[str]:
    return [f.id for f in rank_assets(who, files, returned_for, limit=10).ranked]


# LEAD: industry Robotics, message "Fleet automation for our warehouses".
CASES = [
    pytest.param(
        LEAD,
        [asset("Automation overview"), asset("Q3 notes")],
        # Drive's full text found the notes for the phrase and each word: their content.
        {
            "Q3 notes": {"fleet automation", "fleet", "automation", "warehouses"},
            "Automation overview": {"automation"},
        },
        ["Q3 notes", "Automation overview"],
        id="content-match-beats-a-weak-name-match",
    ),
    pytest.param(
        LEAD,
        [
            asset("Trucks", "Automation of a truck fleet, warehouses to stores"),
            asset("AMRs", "Fleet automation for warehouses"),
        ],
        {},
        ["AMRs", "Trucks"],
        id="phrase-beats-the-same-words-scattered",
    ),
    pytest.param(
        LEAD,
        [asset("Automation brief"), asset("Robotics brief")],
        {},
        ["Robotics brief", "Automation brief"],
        id="industry-weighs-more-than-a-message-word",
    ),
    pytest.param(
        LEAD,
        [asset("Robotics overview"), asset("Robotics case study")],
        {},
        ["Robotics case study", "Robotics overview"],
        id="case-study-bonus-breaks-a-tie",
    ),
    pytest.param(
        LEAD,
        [
            asset("Pricing sheet"),
            asset("Fintech case study"),
            asset("Holiday party photos", "Team offsite"),
        ],
        {},
        [],
        id="no-relevance-no-offer-even-for-a-case-study",
    ),
    pytest.param(
        LEAD,
        [asset("Robotics one-pager", days_old=30), asset("Robotics one-pager v2", days_old=1)],
        {},
        ["Robotics one-pager v2", "Robotics one-pager"],
        id="tie-goes-to-the-newest",
    ),
    pytest.param(
        LEAD,
        [asset("Warehouse robots", "Fleets of robots for a warehouse")],
        {},
        ["Warehouse robots"],
        id="plural-and-singular-match",
    ),
    pytest.param(
        LEAD.model_copy(update={"job_title": "VP Operations"}),
        [asset("Operations handbook"), asset("For our warehouses and the team")],
        {},
        ["For our warehouses and the team", "Operations handbook"],
        id="job-title-counts-least-stop-words-not-at-all",
    ),
    pytest.param(
        GERMAN,
        [
            asset("Warehouse automation one-pager", "Warehouse automation in one page"),
            asset("Fallstudie Spedition Krüger.pdf", "Fallstudie: Lagerautomatisierung bei Krüger"),
        ],
        {},
        ["Fallstudie Spedition Krüger.pdf"],
        id="german-message-finds-the-german-described-asset",
    ),
]


@pytest.mark.parametrize(("who", "files", "returned_for", "expected"), CASES)
def test_ranking(
    who: Lead,
    files: list[DriveFile],
    returned_for: Mapping[str, set[str]],
    expected: list[str],
) -> None:
    assert ranked(who, files, returned_for) == expected


@pytest.mark.parametrize(
    ("message", "kept", "dropped"),
    [
        (
            "Hi, we would like more info about fleet automation for our warehouses",
            {"fleet automation", "fleet", "automation", "warehouses"},
            {"would", "like", "info", "about", "our", "for"},
        ),
        (
            "Hallo, wir suchen eine Lösung für die Lagerautomatisierung in unseren Lagern",
            {"lagerautomatisierung", "lagern"},
            {"hallo", "wir", "suchen", "eine", "lösung", "für", "die", "unseren"},
        ),
        (
            "Bonjour, nous cherchons une solution de planification pour nos cliniques",
            {"planification", "cliniques"},
            {"bonjour", "nous", "cherchons", "une", "solution", "pour", "nos"},
        ),
        (
            "Hola, buscamos una pista de auditoría para las aprobaciones de pagos",
            {"auditoría", "aprobaciones", "pagos"},
            {"hola", "buscamos", "una", "para", "las"},
        ),
    ],
    ids=["en", "de", "fr", "es"],
)
def test_stop_words_stay_out_in_every_language(
    message: str, kept: set[str], dropped: set[str]
) -> None:
    terms = {t.text for t in lead_terms(lead("x@prospect.example", interest=message))}
    assert kept <= terms
    assert not dropped & terms


def test_the_job_title_gives_its_subject_not_its_rank() -> None:
    terms = {t.text: t.weight for t in lead_terms(LEAD.model_copy(update={"job_title": "VP Ops"}))}
    assert terms["ops"] == 1.0
    assert "vp" not in terms
    assert terms["robotics"] > terms["fleet"]
    assert terms["fleet automation"] > terms["fleet"]


def test_no_allowlisted_folder_means_no_asset_and_no_drive_search() -> None:
    drive = FakeDrive()
    drive.add_file("Robotics case study", drive.add_folder("Sales"))
    assert hunt_drive_assets(drive, LEAD, []).ranked == ()
    assert drive.calls["find_files"] == 0


def test_a_lead_with_nothing_to_search_for_gets_no_asset_and_no_search() -> None:
    drive = FakeDrive()
    sales = drive.add_folder("Sales")
    drive.add_file("Robotics case study", sales)
    silent = lead("x@prospect.example", interest="Hello, thanks!")
    assert hunt_drive_assets(drive, silent, [sales]).ranked == ()
    assert drive.calls["find_files"] == 0


def test_only_files_under_the_allowlisted_folders_are_offered() -> None:
    fake = FakeDrive()
    sales = fake.add_folder("Sales collateral")
    robotics = fake.add_folder("Robotics", sales)
    private = fake.add_folder("HR")
    nested = fake.add_file("Robotics one-pager", robotics)
    top = fake.add_file("Automation overview", sales)
    fake.add_file("Robotics fleet automation case study", private)  # the best name, not allowed
    fake.add_file("Robotics pricing 2024", sales, trashed=True)
    drive: Drive = fake
    chosen = hunt_drive_assets(drive, LEAD, [sales])
    assert {f.id for f in chosen.ranked} == {nested.id, top.id}
    assert chosen.chosen == nested  # the industry in its name counts most


def test_a_file_found_by_its_content_is_offered_above_a_name_only_match() -> None:
    drive = FakeDrive()
    sales = drive.add_folder("Sales")
    notes = drive.add_file("Q3 notes", sales, text="Warehouse fleet automation rollout")
    overview = drive.add_file("Automation overview", sales)
    drive.add_file("Holiday party photos", sales, text="team offsite")
    chosen = hunt_drive_assets(drive, LEAD, [sales])
    assert [f.id for f in chosen.ranked] == [notes.id, overview.id]
    # One search per term, bounded whatever the message's length.
    assert 0 < drive.calls["find_files"] <= 6


def test_a_long_message_keeps_the_searches_bounded() -> None:
    drive = FakeDrive()
    sales = drive.add_folder("Sales")
    drive.add_file("Robotics case study", sales)
    words = " ".join(f"topic{i} word{i}" for i in range(200))
    chatty = LEAD.model_copy(update={"interest": "x" * 5000 + " " + words})
    assert hunt_drive_assets(drive, chatty, [sales]).chosen is not None
    assert drive.calls["find_files"] <= 6
    assert all(len(t.text) <= 81 for t in lead_terms(chatty))
