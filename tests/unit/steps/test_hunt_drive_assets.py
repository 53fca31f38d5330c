"""Step 7: the most relevant files, from the tenant's allowlisted Drive folders only."""

from datetime import UTC, datetime

from sales_agent_pipeline.ports.vendors import Drive
from sales_agent_pipeline.steps.hunt_drive_assets import hunt_drive_assets, rank_assets
from tests.fakes import FakeDrive
from tests.unit.steps.examples import LEAD, drive_file


def test_assets_rank_industry_and_interest_matches_first() -> None:
    files = [
        drive_file("Pricing sheet"),
        drive_file("Fintech case study"),
        drive_file("Robotics case study - warehouse automation"),
        drive_file("Robotics one-pager", days_old=1),
        drive_file("Holiday party photos"),
    ]
    ranked = rank_assets(LEAD, files).ranked
    assert [f.name for f in ranked] == [
        "Robotics case study - warehouse automation",
        "Robotics one-pager",
        "Fintech case study",
    ]


def test_no_allowlisted_folder_means_no_asset_and_no_drive_search() -> None:
    drive = FakeDrive()
    drive.add_file("Robotics case study", drive.add_folder("Sales"))
    assert hunt_drive_assets(drive, LEAD, []).ranked == ()
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


def test_files_whose_name_says_nothing_of_the_lead_are_not_offered() -> None:
    drive = FakeDrive()
    sales = drive.add_folder("Sales")
    # Drive finds it by its text, but a prospect would not see why it is relevant.
    drive.add_file("Q3 notes", sales, text="robotics fleet automation")
    newer = drive.add_file(
        "Robotics case study", sales, modified_time=datetime(2026, 5, 1, tzinfo=UTC)
    )
    drive.add_file("Robotics case study", sales, modified_time=datetime(2025, 5, 1, tzinfo=UTC))
    chosen = hunt_drive_assets(drive, LEAD, [sales])
    assert "Q3 notes" not in [f.name for f in chosen.ranked]
    assert chosen.chosen == newer  # a tie goes to the most recently modified
