"""Bulk imports: upload a CSV of leads (admin key), then follow their progress."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.auth import ADMIN_RESPONSES, AUTH_RESPONSES, AdminKey, CurrentKey, Principal
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.schemas.imports import (
    ImportCreated,
    ImportDetail,
    ImportProgress,
    ImportRejection,
    ImportRow,
)
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.usecases.imports import (
    ImportRefused,
    ImportResult,
    import_csv,
    import_status,
)

router = APIRouter(prefix="/api/imports", tags=["imports"])


def _store(
    sessions: sessionmaker[Session],
    principal: Principal,
    data: bytes,
    filename: str,
    max_bytes: int,
    max_rows: int,
) -> ImportResult:
    with sessions.begin() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        if tenant is None:
            raise ApiError(404, "tenant_not_found", "the key's tenant no longer exists")
        return import_csv(
            session,
            tenant,
            data,
            filename=filename,
            created_by=principal.actor,
            max_bytes=max_bytes,
            max_rows=max_rows,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportCreated,
    responses={
        **ADMIN_RESPONSES,
        400: {"model": ErrorResponse, "description": "Not a usable CSV (named in the message)"},
        413: {"model": ErrorResponse, "description": "The file is over IMPORT_MAX_BYTES"},
    },
    summary="Import a CSV of leads",
)
async def create_import(
    request: Request,
    principal: AdminKey,
    file: Annotated[
        UploadFile,
        File(
            description="CSV with an email column; first/last name, company and any extra "
            "columns are kept as the lead's fields"
        ),
    ],
) -> ImportCreated:
    """Store every valid row as a lead in one transaction; the report names each rejection."""
    settings = request.app.state.settings
    max_bytes: int = settings.import_max_bytes
    data = await file.read(max_bytes + 1)
    try:
        result = await run_in_threadpool(
            _store,
            request.app.state.sessions,
            principal,
            data,
            file.filename or "upload.csv",
            max_bytes,
            settings.import_max_rows,
        )
    except ImportRefused as exc:
        code = 413 if exc.code == "file_too_large" else 400
        raise ApiError(code, exc.code, str(exc), ["file"]) from None
    return ImportCreated(
        import_id=result.import_id,
        filename=file.filename or "upload.csv",
        rows_total=len(result.rows),
        rows_accepted=result.accepted,
        rows_rejected=result.rejected,
        rows=[
            ImportRow(
                row=row.row,
                email=row.email,
                status=row.status,
                reason=row.reason,
                workflow_id=row.workflow_id,
            )
            for row in result.rows
        ],
    )


@router.get(
    "/{import_id}",
    response_model=ImportDetail,
    responses={
        **AUTH_RESPONSES,
        404: {"model": ErrorResponse, "description": "No such import for this key's tenant"},
    },
    summary="An import's progress",
)
def get_import(request: Request, principal: CurrentKey, import_id: uuid.UUID) -> ImportDetail:
    """Rows done, failed and remaining, the rate so far and the estimated time left."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        found = import_status(session, principal.tenant_id, import_id, datetime.now(UTC))
    if found is None:
        raise ApiError(404, "import_not_found", f"no import {import_id} for this tenant")
    return ImportDetail(
        import_id=found.import_id,
        filename=found.filename,
        status=found.status,
        created_at=found.created_at,
        completed_at=found.completed_at,
        rows_total=found.rows_total,
        rows_accepted=found.rows_accepted,
        rows_rejected=found.rows_rejected,
        rejections=[ImportRejection.model_validate(r) for r in found.rejections],
        progress=ImportProgress(
            done=found.done,
            failed=found.failed,
            dead_letter=found.dead_letter,
            remaining=found.remaining,
            running=found.running,
            leads_per_minute=found.leads_per_minute,
            estimated_seconds_remaining=found.estimated_seconds_remaining,
        ),
    )
