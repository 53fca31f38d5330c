"""POST /webhook/formlead: verify, store once in one transaction, answer; launch after."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio.to_thread
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Engine

from sales_agent_api import metrics, signature
from sales_agent_api.deliveries import Delivery, parse_delivery
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.secret_cache import PlaintextCache
from sales_agent_pipeline.db.models import Tenant, TenantSecret
from sales_agent_pipeline.db.repositories.outbox import Accepted, accept_submission
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import SecretDecryptError
from sales_agent_pipeline.settings import Settings

router = APIRouter(tags=["webhook"])
log = structlog.get_logger(__name__)


class Receipt(BaseModel):
    """Where one submission landed."""

    status: Literal["accepted", "duplicate"]
    submission_id: uuid.UUID
    workflow_id: uuid.UUID


class BatchReceipt(BaseModel):
    """A batched delivery's receipts, in the order sent."""

    status: Literal["accepted", "duplicate"]
    results: list[Receipt]


async def raw_body(request: Request) -> bytes:
    """The body, refusing more than the limit before reading it all (413)."""
    settings: Settings = request.app.state.settings
    limit = settings.webhook_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(request: Request, body: bytes) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None


def _deliveries(document: Any) -> list[Delivery]:
    if isinstance(document, list):
        if not document:
            raise ApiError(400, "empty_batch", "the batch has no events")
        deliveries = [parse_delivery(item, f"[{i}].") for i, item in enumerate(document)]
    else:
        deliveries = [parse_delivery(document)]
    if len({d.portal_id for d in deliveries}) != 1:
        raise ApiError(400, "mixed_portals", "one delivery carries one portal's events")
    return deliveries


def _verify(request: Request, body: bytes, secret: str | None, settings: Settings) -> None:
    if not settings.webhook_verify_signatures:
        return
    if secret is None:
        # Fail closed: never the app's HUBSPOT_CLIENT_SECRET or another tenant's secret.
        raise ApiError(401, "no_secret", "no webhook secret is configured for this portal")
    url = signature.public_url(
        request.url.scheme,
        request.headers.get("host", request.url.netloc),
        # The raw path: Starlette's request.url.path is already percent-decoded, and
        # HubSpot signs the URL as it sent it.
        request.scope.get("root_path", "")
        + request.scope["raw_path"].decode("latin-1")
        + (f"?{request.url.query}" if request.url.query else ""),
        request.headers,
        trust_forwarded=settings.webhook_trust_forwarded_headers,
    )
    try:
        signature.verify(
            secret=secret,
            method=request.method,
            url=url,
            body=body,
            headers=request.headers,
            now_ms=int(time.time() * 1000),
            tolerance_ms=settings.webhook_timestamp_tolerance_seconds * 1000,
        )
    except signature.SignatureError as exc:
        raise ApiError(401, "bad_signature", exc.reason) from None


@dataclass(frozen=True)
class _Tenant:
    """The columns of a tenant the outbox needs."""

    id: uuid.UUID
    portal_id: int


_TENANTS = Tenant.__table__
_SECRETS = TenantSecret.__table__
# One Core SELECT (no ORM identity map) for the tenant and its webhook secret's ciphertext:
# the secret's row is the tenant's own, found by its id and kind, never by a name.
_TENANT_LOOKUP = (
    select(
        _TENANTS.c.id,
        _TENANTS.c.portal_id,
        _TENANTS.c.allowed_form_ids,
        _TENANTS.c.disabled_at,
        _SECRETS.c.ciphertext,
    )
    .select_from(
        _TENANTS.outerjoin(
            _SECRETS,
            and_(
                _SECRETS.c.tenant_id == _TENANTS.c.id,
                _SECRETS.c.kind == SecretKind.WEBHOOK_SECRET.value,
            ),
        )
    )
    .where(_TENANTS.c.portal_id == bindparam("portal_id"))
)


def _secret(request: Request, portal_id: int, ciphertext: bytes | None) -> str | None:
    if ciphertext is None:
        return None
    cache: PlaintextCache = request.app.state.secrets
    try:
        return cache.plaintext(ciphertext)
    except SecretDecryptError:
        # Our configuration, not the sender's fault: a 503 makes HubSpot retry once the
        # key is back, and the message names no secret.
        log.error("webhook.secret_unreadable", portal_id=portal_id)
        raise ApiError(
            503, "secret_unreadable", "the portal's webhook secret cannot be read"
        ) from None


def _store(request: Request, body: bytes, deliveries: list[Delivery]) -> list[Accepted]:
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    portal_id = deliveries[0].portal_id
    with engine.begin() as connection:
        row = connection.execute(_TENANT_LOOKUP, {"portal_id": portal_id}).first()
        if row is None:
            raise ApiError(403, "unknown_portal", f"portal {portal_id} is not a tenant here")
        tenant_id, _, allowed, disabled_at, ciphertext = row
        _verify(request, body, _secret(request, portal_id, ciphertext), settings)
        if disabled_at is not None:
            raise ApiError(403, "tenant_disabled", f"portal {portal_id} is disabled here")
        # The tenant's own allowlist only: a form belongs to one portal (empty: any of its
        # forms, the signature already proves the portal).
        refused = [d.form_id for d in deliveries if allowed and d.form_id not in allowed]
        if refused:
            raise ApiError(403, "form_not_allowed", f"form {refused[0]} is not on the allowlist")
        tenant = _Tenant(tenant_id, portal_id)
        return [
            accept_submission(
                connection,
                tenant,
                form_id=d.form_id,
                hubspot_submission_id=d.submission_id,
                payload=d.payload,
                email=d.email,
                first_name=d.fields.get("first_name"),
                last_name=d.fields.get("last_name"),
                company=d.fields.get("company"),
                submitted_at=d.submitted_at,
            )
            for d in deliveries
        ]


@router.post(
    "/webhook/formlead",
    status_code=202,
    response_model=Receipt | BatchReceipt,
    responses={
        200: {"model": Receipt, "description": "Duplicate: this submission was received before"},
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse, "description": "Bad signature, or no secret for the portal"},
        403: {"model": ErrorResponse, "description": "Unknown portal, disabled tenant, form"},
        413: {"model": ErrorResponse},
        415: {"model": ErrorResponse},
        503: {"model": ErrorResponse, "description": "The portal's secret cannot be read"},
    },
    summary="Receive a HubSpot form submission",
)
async def receive_formlead(
    request: Request, body: Annotated[bytes, Depends(raw_body)]
) -> JSONResponse:
    """Verify the signature, store the submission and its workflow, answer 202 (200 if seen)."""
    deliveries = _deliveries(_json(request, body))
    accepted = await anyio.to_thread.run_sync(
        _store, request, body, deliveries, limiter=request.app.state.store_limiter
    )
    receipts = [
        Receipt(
            status="duplicate" if a.duplicate else "accepted",
            submission_id=a.submission_id,
            workflow_id=a.workflow_id,
        )
        for a in accepted
    ]
    new = [a.workflow_id for a in accepted if not a.duplicate]
    metrics.DELIVERIES.labels("accepted").inc(len(new))
    metrics.DELIVERIES.labels("duplicate").inc(len(accepted) - len(new))
    if new:
        request.app.state.launches.submit(new, deliveries[0].portal_id)
    code = 202 if new else 200
    if len(receipts) == 1:
        return JSONResponse(receipts[0].model_dump(mode="json"), status_code=code)
    batch = BatchReceipt(status="accepted" if new else "duplicate", results=receipts)
    return JSONResponse(batch.model_dump(mode="json"), status_code=code)
