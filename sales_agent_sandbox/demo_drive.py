"""The demo's Drive: folders and files in My Drive (the default user's, shared with the
company) and in a shared drive, some outside the allowlist or trashed on purpose.

Each file carries a one-line description (what a rep would read in a list of assets) and
the text Drive would index from its content, so `fullText contains` finds a file by what
it says, not only by what it is called; a few are in German, French and Spanish.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

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


class Item(NamedTuple):
    """A demo Drive item; a parent in the shared drive puts the item in it too."""

    id: str
    name: str
    mime: str
    parent: str | None
    trashed: bool
    description: str
    content: str = ""


DRIVE: list[Item] = [
    Item(CASE_STUDIES, "Case studies", FOLDER, None, False, ""),
    Item("folder-case-studies-robotics", "Robotics", FOLDER, CASE_STUDIES, False, ""),
    Item("folder-internal", "Internal", FOLDER, None, False, "Not for prospects"),
    Item(ONE_PAGERS, "One-pagers", FOLDER, SHARED_DRIVE, False, ""),
    Item(
        "file-cs-fintech",
        "Ledgerline - payments audit trail case study",
        DOC,
        CASE_STUDIES,
        False,
        "Case study: Ledgerline cut payment-approval audits from five days to four hours.",
        "Ledgerline, a London fintech, approves 40,000 payments a month. Every approval now "
        "leaves an audit trail that compliance teams export in one click; the quarterly "
        "audit went from five days to four hours, and four-eyes approval is enforced for "
        "payments above a threshold.",
    ),
    Item(
        "file-cs-healthcare",
        "CarePoint clinics scheduling case study",
        SLIDES,
        CASE_STUDIES,
        False,
        "Case study: CarePoint's 40 clinics fill cancelled appointments within the hour.",
        "CarePoint Health runs 40 outpatient clinics. Patient scheduling moved from phone "
        "calls to self-service booking; cancelled appointments are offered to the waiting "
        "list automatically, no-shows fell by 22 percent and HIPAA audit logs are kept.",
    ),
    Item(
        "file-cs-robotics-pick",
        "Pick-and-place rollout case study.pdf",
        PDF,
        "folder-case-studies-robotics",
        False,
        "Case study: a pick-and-place cell rollout across two plants in eight weeks.",
        "An industrial robotics integrator rolled out pick-and-place cells in two plants. "
        "Cycle times dropped 18 percent; the cells report faults to the maintenance team.",
    ),
    # The name says nothing of what it covers: only its content can make it relevant.
    Item(
        "file-cs-northwind",
        "Northwind 2025 review.pdf",
        PDF,
        "folder-case-studies-robotics",
        False,
        "Case study: Northwind runs a mixed robot fleet across three warehouses, 38% faster "
        "picking.",
        "Northwind Logistics automated three warehouses with a mixed fleet of autonomous "
        "mobile robots. Fleet automation assigns picks across robots and people; order "
        "picking is 38 percent faster and warehouse staff moved to exception handling. "
        "Robotics vendors of several makes run under one fleet manager.",
    ),
    Item(
        "file-cs-krueger-de",
        "Fallstudie Spedition Krüger.pdf",
        PDF,
        CASE_STUDIES,
        False,
        "Fallstudie: Lagerautomatisierung bei Spedition Krüger, 40 % weniger Pickfehler.",
        "Spedition Krüger betreibt zwei Lager in Hamburg und Leipzig. Mit fahrerlosen "
        "Transportsystemen und einer Flottensteuerung für Roboter sank die Fehlerquote "
        "beim Kommissionieren um 40 Prozent; die Lagerautomatisierung war nach sechs Monaten "
        "abbezahlt.",
    ),
    Item(
        "file-op-sante-fr",
        "Fiche - planification des rendez-vous.pdf",
        PDF,
        ONE_PAGERS,
        False,
        "Une page : la planification des rendez-vous patients pour les cliniques, "
        "conforme au RGPD.",
        "Planification des rendez-vous en ligne pour les cliniques et centres de santé : "
        "rappels par SMS, liste d'attente automatique, moins de rendez-vous manqués.",
    ),
    Item(
        "file-cs-pagos-es",
        "Caso de éxito - Banco Sol.pdf",
        PDF,
        CASE_STUDIES,
        False,
        "Caso de éxito: Banco Sol audita sus aprobaciones de pagos en horas, no en días.",
        "Banco Sol, un banco digital de Madrid, registra cada aprobación de pagos con una "
        "pista de auditoría completa. La auditoría trimestral pasó de cinco días a cuatro "
        "horas.",
    ),
    # Trashed, and the best match for a robotics warehouse query: must never be returned.
    Item(
        "file-cs-robotics-trashed",
        "Robotics warehouse automation case study.pdf",
        PDF,
        CASE_STUDIES,
        True,
        "Superseded: warehouse fleet automation case study (2023 edition).",
        "Warehouse fleet automation with robotics: the 2023 edition of the warehouse case.",
    ),
    Item(
        "file-op-robotics",
        "Robotics one-pager.pdf",
        PDF,
        ONE_PAGERS,
        False,
        "One page: our fleet manager for warehouse and factory robots.",
        "One fleet manager for robots of every make: task assignment, traffic control and "
        "uptime reports for warehouses and factories.",
    ),
    Item(
        "file-op-fintech",
        "Fintech one-pager",
        DOC,
        ONE_PAGERS,
        False,
        "One page: approval workflows and audit trails for payment teams.",
        "Approval workflows, audit trails and exports for payment operations and compliance teams.",
    ),
    Item(
        "file-op-healthcare",
        "Healthcare one-pager",
        SLIDES,
        ONE_PAGERS,
        False,
        "One page: patient scheduling and reminders for clinic groups.",
        "Patient scheduling, reminders and waiting lists for clinic groups, HIPAA-ready.",
    ),
    Item(
        "file-op-fintech-trashed",
        "Fintech one-pager (old draft)",
        DOC,
        ONE_PAGERS,
        True,
        "Old draft of the fintech one-pager.",
        "Payments audit trail, old draft.",
    ),
    # Outside every allowlisted folder, though they match well.
    Item(
        "file-internal-robotics",
        "Robotics warehouse automation case study - pricing notes.pdf",
        PDF,
        "folder-internal",
        False,
        "Internal: pricing notes for warehouse fleet automation deals.",
        "Internal pricing for warehouse fleet automation and robotics deals: discounts, "
        "margins, warehouse robot fleet rates. Not for prospects.",
    ),
    Item(
        "file-root-healthcare",
        "Healthcare case study draft",
        DOC,
        None,
        False,
        "Draft, not approved: patient scheduling case study.",
        "Patient scheduling case study draft for clinics.",
    ),
]


def drive_files(now: datetime) -> list[dict[str, Any]]:
    """The demo's Drive files as seed items, modified in the 30 days before `now`."""
    shared_folders = {ONE_PAGERS}
    files = []
    for index, item in enumerate(DRIVE):
        in_shared = item.parent == SHARED_DRIVE or item.parent in shared_folders
        files.append(
            {
                "id": item.id,
                "name": item.name,
                "mimeType": item.mime,
                "parents": [item.parent] if item.parent else [],
                "trashed": item.trashed,
                "description": item.description or None,
                "driveId": SHARED_DRIVE if in_shared else None,
                "modifiedTime": iso(now - timedelta(days=30 - index)),
                "content": item.content,
                # Owned by the default user, shared with the company (and so its files).
                "sharedWith": [f"domain:{DEMO_DOMAIN}"] if item.id == CASE_STUDIES else [],
            }
        )
    return files
