"""The demo's Drive: folders and files in My Drive (the default user's, shared with the
company) and in a shared drive, some outside the allowlist or trashed on purpose."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .state import iso

DEMO_DOMAIN = "sandbox.example.com"
FOLDER = "application/vnd.google-apps.folder"
PDF = "application/pdf"
DOC = "application/vnd.google-apps.document"
SLIDES = "application/vnd.google-apps.presentation"

CASE_STUDIES = "folder-case-studies"
ONE_PAGERS = "folder-one-pagers"
SHARED_DRIVE = "shared-drive-sales"
ALLOWLIST = [CASE_STUDIES, ONE_PAGERS]

# (id, name, mime type, parent, trashed, description); parents in the shared drive carry it.
DRIVE: list[tuple[str, str, str, str | None, bool, str]] = [
    (CASE_STUDIES, "Case studies", FOLDER, None, False, ""),
    ("folder-case-studies-robotics", "Robotics", FOLDER, CASE_STUDIES, False, ""),
    ("folder-internal", "Internal", FOLDER, None, False, "Not for prospects"),
    (ONE_PAGERS, "One-pagers", FOLDER, SHARED_DRIVE, False, ""),
    (
        "file-cs-fintech",
        "Ledgerline - payments audit trail case study",
        DOC,
        CASE_STUDIES,
        False,
        "Fintech: audit trail for payment approvals",
    ),
    (
        "file-cs-healthcare",
        "CarePoint clinics scheduling case study",
        SLIDES,
        CASE_STUDIES,
        False,
        "Healthcare: patient scheduling",
    ),
    (
        "file-cs-robotics-pick",
        "Pick-and-place rollout case study.pdf",
        PDF,
        "folder-case-studies-robotics",
        False,
        "Robotics: warehouse pick-and-place",
    ),
    # Trashed, and the best name match for a robotics warehouse query: must never be returned.
    (
        "file-cs-robotics-trashed",
        "Robotics warehouse automation case study.pdf",
        PDF,
        CASE_STUDIES,
        True,
        "Robotics: superseded version",
    ),
    ("file-op-robotics", "Robotics one-pager.pdf", PDF, ONE_PAGERS, False, "Robotics"),
    ("file-op-fintech", "Fintech one-pager", DOC, ONE_PAGERS, False, "Fintech"),
    ("file-op-healthcare", "Healthcare one-pager", SLIDES, ONE_PAGERS, False, "Healthcare"),
    ("file-op-fintech-trashed", "Fintech one-pager (old draft)", DOC, ONE_PAGERS, True, "Fintech"),
    # Outside every allowlisted folder, though their names match well.
    (
        "file-internal-robotics",
        "Robotics warehouse automation case study - pricing notes.pdf",
        PDF,
        "folder-internal",
        False,
        "Internal pricing",
    ),
    ("file-root-healthcare", "Healthcare case study draft", DOC, None, False, "My Drive root"),
]


def drive_files(now: datetime) -> list[dict[str, Any]]:
    """The demo's Drive files as seed items, modified in the 30 days before `now`."""
    shared_folders = {ONE_PAGERS}
    files = []
    for index, (file_id, name, mime, parent, trashed, description) in enumerate(DRIVE):
        in_shared = parent == SHARED_DRIVE or parent in shared_folders
        files.append(
            {
                "id": file_id,
                "name": name,
                "mimeType": mime,
                "parents": [parent] if parent else [],
                "trashed": trashed,
                "description": description or None,
                "driveId": SHARED_DRIVE if in_shared else None,
                "modifiedTime": iso(now - timedelta(days=30 - index)),
                "content": f"{name}\n{description}\n" if mime != FOLDER else "",
                # Owned by the default user, shared with the company (and so its files).
                "sharedWith": [f"domain:{DEMO_DOMAIN}"] if file_id == CASE_STUDIES else [],
            }
        )
    return files
