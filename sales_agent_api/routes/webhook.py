"""POST /webhook/formlead: verify, store once in one transaction, answer; launch after."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

import anyio.to_thread
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from starlette.background import BackgroundTask

from sales_agent_api import metrics
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.launch import request_runs
from sales_agent_api.secret_cache import PlaintextCache
from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors import hubspot_signature as signature
from sales_agent_pipeline.connectors import synthetic_marker
from sales_agent_pipeline.db.repositories.outbox import Accepted
from sales_agent_pipeline.domain.submission import InvalidSubmission, Submission
from sales_agent_pipeline.secretbox import SecretDecryptError
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases import intake

router = APIRouter(tags=["webhook"])
PATH = "/webhook/formlead"
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


def _no_constant(name: str) -> Any:
    # Python's parser takes NaN and Infinity by default; JSON (and PostgreSQL's JSONB) has none.
    raise ApiError(400, "invalid_json", f"{name} is not a JSON number")


def _json(request: Request, body: bytes) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    except RecursionError:
        # The standard parser recurses per nesting level: a body nested thousands deep
        # exhausts the stack before any depth check of ours could run.
        raise ApiError(400, "too_deep", "the body's JSON nests too deeply") from None


def _submissions(document: Any) -> list[Submission]:
    try:
        return intake.parse_deliveries(document)
    except InvalidSubmission as exc:
        raise ApiError(400, exc.code, exc.message, exc.fields) from None


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


def _store(
    request: Request, body: bytes, submissions: list[Submission]
) -> tuple[list[Accepted], bool]:
    """The delivery's receipts, and whether it is the canary's synthetic lead."""
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    portal_id = submissions[0].portal_id
    marker = request.headers.get(synthetic_marker.HEADER)
    synthetic = False

    def authenticate(ciphertext: bytes | None) -> bool:
        nonlocal synthetic
        secret = _secret(request, portal_id, ciphertext)
        _verify(request, body, secret, settings)
        # Checked even when signatures are not (development): only the portal's own secret
        # makes a lead synthetic, whatever its fields say.
        synthetic = secret is not None and synthetic_marker.is_marked(secret, body, marker)
        return synthetic

    try:
        # One transaction: the tenant's look-up, the checks and every insert, or nothing.
        with engine.begin() as connection:
            return intake.receive(connection, submissions, authenticate), synthetic
    except intake.SubmissionRefused as exc:
        raise ApiError(403, exc.code, exc.message) from None


@router.post(
    PATH,
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
async def receive_formlead(request: Request) -> JSONResponse:
    """Verify the signature, store the submission and its workflow, answer 202 (200 if seen)."""
    # Bounded by WEBHOOK_MAX_BODY_BYTES before and while it streams in (body_limits).
    body = await request.body()
    submissions = _submissions(_json(request, body))
    accepted, synthetic = await anyio.to_thread.run_sync(
        _store, request, body, submissions, limiter=request.app.state.store_limiter
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
    background: BackgroundTask | None = None
    if new and synthetic:
        # The canary's lead gets a run of its own, tagged synthetic (the UI filters it out,
        # the run meters nothing), through the same launch as the queue's, after the answer.
        tags = {run_tags.TENANT: str(submissions[0].portal_id), run_tags.SYNTHETIC: "true"}
        state = request.app.state
        background = BackgroundTask(request_runs, state.sessions, state.launcher, new, tags)
    elif new:
        request.app.state.launches.submit(new, submissions[0].portal_id)
    code = 202 if new else 200
    if len(receipts) == 1:
        content = receipts[0].model_dump(mode="json")
    else:
        batch = BatchReceipt(status="accepted" if new else "duplicate", results=receipts)
        content = batch.model_dump(mode="json")
    return JSONResponse(content, status_code=code, background=background)
