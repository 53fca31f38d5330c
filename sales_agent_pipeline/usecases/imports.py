"""Bulk CSV imports of leads: read the file, judge every row, store the good ones at once.

The API and the CLI both call `import_csv` inside a transaction they own: the accepted rows
become form submissions (source `import`) with their workflows, and one `lead_imports` row
keeps the counts and the rejections. Any failure rolls all of it back.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import imports as repository
from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.domain.submission import canonical_field, normalise_email
from sales_agent_pipeline.usecases import intake

if TYPE_CHECKING:
    import pandas as pd

IMPORT_FORM_ID = "import"
RowStatus = Literal["accepted", "rejected"]
# Fields stored in columns of this width.
_BOUNDED = ("first_name", "last_name", "company")
_MAX_TEXT = 255
# A lead's row: how many columns, and how long one cell (any column, kept in its payload).
MAX_COLUMNS = 200
MAX_CELL = 10_000


class ImportRefused(ValueError):
    """The file as a whole cannot be imported (too big, not a CSV, no email column)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RowReport:
    """What happened to one data row (numbered from 1, the header not counted)."""

    row: int
    email: str
    status: RowStatus
    reason: str | None = None
    workflow_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ImportResult:
    """The stored import and its per-row report."""

    import_id: uuid.UUID
    rows: list[RowReport] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        """Rows stored as leads."""
        return sum(1 for row in self.rows if row.status == "accepted")

    @property
    def rejected(self) -> int:
        """Rows refused, each with its reason."""
        return len(self.rows) - self.accepted


@dataclass(frozen=True)
class ParsedRow:
    """One data row: its fields by canonical name (extra columns keep their own name)."""

    row: int
    fields: dict[str, str]


def read_rows(data: bytes, *, max_bytes: int, max_rows: int) -> list[ParsedRow]:
    """The CSV's rows; ImportRefused, naming what is wrong and where, when the file as a
    whole is unusable: too big, not UTF-8 text, not a rectangular CSV, or too wide."""
    if not data.strip():
        raise ImportRefused("empty_file", "the file is empty")
    if len(data) > max_bytes:
        raise ImportRefused(
            "file_too_large", f"the file has {len(data)} bytes; the limit is {max_bytes}"
        )
    nul = data.find(b"\x00")
    if nul != -1:
        # PostgreSQL stores no NUL character; a NUL usually means UTF-16 or a binary export.
        raise ImportRefused(
            "nul_byte",
            f"the file has a NUL byte at byte {nul}: it is not CSV text (UTF-16, or a "
            "spreadsheet file?); export it as CSV UTF-8",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            "not_utf8",
            f"the file is not UTF-8 text (byte {exc.start} cannot be read); export it as CSV UTF-8",
        ) from None
    # pandas is imported here, when a file is read, not with the module: the API and the CLI
    # (`sales-agent up` among them) import this module, and pandas would hold ~55 MB in
    # each of those long-lived processes that never read a CSV.
    import pandas as pd

    try:
        # No header row for pandas: the first line sets the width, so a longer row is an
        # error rather than silently shifting its first cells into an index. Everything as
        # text: a leading zero or "NA" in a company name stays as written.
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=True,
            nrows=max_rows + 2,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise ImportRefused(
            "not_csv", f"the file is not a readable CSV: {str(exc).strip()}"
        ) from None
    if len(frame.columns) > MAX_COLUMNS:
        raise ImportRefused(
            "too_many_columns",
            f"the file has {len(frame.columns)} columns; the limit is {MAX_COLUMNS}",
        )
    if len(frame) - 1 > max_rows:
        raise ImportRefused("too_many_rows", f"the file has more than {max_rows} rows")
    _check_cells(frame)
    headers = [str(value) for value in frame.iloc[0]]
    names = [canonical_field(header) for header in headers]
    if "email" not in names:
        raise ImportRefused("no_email_column", f"no email column among the headers {headers}")
    rows: list[ParsedRow] = []
    for index, values in enumerate(frame.iloc[1:].itertuples(index=False, name=None), start=1):
        fields: dict[str, str] = {}
        for name, value in zip(names, values, strict=True):
            text_value = str(value).strip()
            if text_value:
                fields.setdefault(name, text_value)
        if fields:
            rows.append(ParsedRow(index, fields))
    return rows


def _check_cells(frame: pd.DataFrame) -> None:
    """ImportRefused naming the first cell (header included) longer than MAX_CELL."""
    for position, column in enumerate(frame.columns, start=1):
        lengths = frame[column].str.len()
        longest = lengths.max()
        if longest > MAX_CELL:
            row = int(lengths.to_numpy().argmax())
            where = "the header" if row == 0 else f"row {row}"
            raise ImportRefused(
                "field_too_long",
                f"{where}, column {position}: {longest} characters; the limit is {MAX_CELL}",
            )


def judge_rows(
    rows: list[ParsedRow], known: set[str]
) -> tuple[list[tuple[ParsedRow, str]], list[RowReport]]:
    """The rows to store (with their normalised email), and the rejections with reasons."""
    accepted: list[tuple[ParsedRow, str]] = []
    rejected: list[RowReport] = []
    first_seen: dict[str, int] = {}
    for parsed in rows:
        raw = parsed.fields.get("email", "")
        if not raw:
            rejected.append(RowReport(parsed.row, raw, "rejected", "no email"))
            continue
        try:
            email = normalise_email(raw)
        except LeadRejected as exc:
            rejected.append(RowReport(parsed.row, raw, "rejected", f"bad email: {exc}"))
            continue
        too_long = [name for name in _BOUNDED if len(parsed.fields.get(name, "")) > _MAX_TEXT]
        if too_long:
            reason = f"{too_long[0].replace('_', ' ')} longer than {_MAX_TEXT} characters"
            rejected.append(RowReport(parsed.row, email, "rejected", reason))
            continue
        if email in first_seen:
            reason = f"duplicate in file (same email as row {first_seen[email]})"
            rejected.append(RowReport(parsed.row, email, "rejected", reason))
            continue
        first_seen[email] = parsed.row
        if email in known:
            rejected.append(RowReport(parsed.row, email, "rejected", "already known"))
            continue
        accepted.append((parsed, email))
    return accepted, rejected


def import_csv(
    session: Session,
    tenant: Tenant,
    data: bytes,
    *,
    filename: str,
    created_by: str,
    max_bytes: int,
    max_rows: int,
) -> ImportResult:
    """Judge every row and store the accepted ones with one import row (caller commits)."""
    rows = read_rows(data, max_bytes=max_bytes, max_rows=max_rows)
    if not rows:
        raise ImportRefused("no_rows", "the file has a header but no data rows")
    candidates = {
        email
        for parsed in rows
        if (email := _quiet_email(parsed.fields.get("email", ""))) is not None
    }
    known = repository.known_emails(session, tenant.id, candidates)
    accepted, rejected = judge_rows(rows, known)
    import_id = uuid.uuid4()
    repository.create_import(
        session,
        import_id,
        tenant,
        filename=_storable(filename)[:255] or "upload.csv",
        created_by=created_by[:255],
        rows_total=len(rows),
        rejections=[
            {"row": report.row, "email": report.email, "reason": report.reason}
            for report in rejected
        ],
        rows_accepted=len(accepted),
    )
    submissions = [
        intake.from_fields(
            tenant.portal_id,
            IMPORT_FORM_ID,
            f"import:{import_id}:{parsed.row}",
            parsed.fields,
            email,
        )
        for parsed, email in accepted
    ]
    workflow_ids = intake.accept_imported(session, tenant, import_id, submissions)
    reports = rejected + [
        RowReport(parsed.row, email, "accepted", None, workflow_id)
        for (parsed, email), workflow_id in zip(accepted, workflow_ids, strict=True)
    ]
    reports.sort(key=lambda report: report.row)
    return ImportResult(import_id, reports)


def _storable(text: str) -> str:
    # An uploaded file's name is the sender's: no NUL and no lone surrogate reach PostgreSQL.
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _quiet_email(raw: str) -> str | None:
    try:
        return normalise_email(raw) if raw else None
    except LeadRejected:
        return None


@dataclass(frozen=True)
class ImportStatus:
    """An import's counts and its leads' progress, with the rate so far and what is left."""

    import_id: uuid.UUID
    filename: str
    status: str
    created_at: datetime
    completed_at: datetime | None
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rejections: list[dict[str, Any]]
    done: int
    failed: int
    dead_letter: int
    remaining: int
    running: int
    leads_per_minute: float | None
    estimated_seconds_remaining: float | None

    @property
    def finished(self) -> bool:
        """True once no lead is waiting or running (dead letters wait outside the runs)."""
        return self.remaining == 0


def import_status(
    session: Session, tenant_id: uuid.UUID, import_id: uuid.UUID, now: datetime
) -> ImportStatus | None:
    """The tenant's import and its progress; None when the tenant has no such import."""
    stored = repository.get_import(session, tenant_id, import_id)
    if stored is None:
        return None
    progress = repository.progress(session, import_id)
    finished = progress.done + progress.failed
    rate: float | None = None
    eta: float | None = None
    if progress.started_at is not None and finished:
        until = now if progress.remaining else (progress.last_completed_at or now)
        minutes = max((until - progress.started_at).total_seconds() / 60, 1 / 60)
        rate = finished / minutes
        eta = progress.remaining / rate * 60
    return ImportStatus(
        import_id=stored.id,
        filename=stored.filename,
        status=stored.status,
        created_at=stored.created_at,
        completed_at=stored.completed_at,
        rows_total=stored.rows_total,
        rows_accepted=stored.rows_accepted,
        rows_rejected=stored.rows_rejected,
        rejections=list(stored.rejections),
        done=progress.done,
        failed=progress.failed,
        dead_letter=progress.dead_letter,
        remaining=progress.remaining,
        running=progress.running,
        leads_per_minute=round(rate, 1) if rate is not None else None,
        estimated_seconds_remaining=round(eta, 1) if eta is not None else None,
    )
