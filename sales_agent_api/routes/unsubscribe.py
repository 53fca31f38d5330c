"""POST /unsubscribe/{token} (RFC 8058 one-click) and GET /unsubscribe/{token} (a page with
a button): public, no API key, no cookies; the token is the only credential.

The POST unsubscribes whatever its body (mail providers send `List-Unsubscribe=One-Click`
form-encoded; the body is never read, so its size is bounded by the body limits and costs
nothing) and answers 200 again on a repeat, changing nothing. The GET never unsubscribes:
mail scanners and link previewers follow links.

Bad tokens are refused before any database work (the token is authenticated encryption:
nothing can be enumerated). Failures from one client are counted, and a client with too
many gets 429 instead of the named problem for a while, so bulk probing learns nothing; a
valid token is never throttled, because behind a proxy many people share one client
address and an unsubscribe must always work.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.deps import Responses
from sales_agent_api.errors import ErrorBody, ErrorResponse
from sales_agent_api.schemas.suppressions import UnsubscribeAnswer
from sales_agent_api.unsubscribe_guard import FAILURE_WINDOW_SECONDS, limiter
from sales_agent_pipeline.db.repositories.suppressions import BadSuppression
from sales_agent_pipeline.secretbox import (
    MAX_UNSUBSCRIBE_TOKEN,
    UNSUBSCRIBE_TOKEN_PATTERN,
    BadUnsubscribeToken,
)
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.unsubscribe import (
    ONE_CLICK,
    UnknownTenant,
    Unsubscribed,
    check,
    unsubscribe,
)

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])

STATUS = {"malformed": 400, "forged": 403, "expired": 410}
_HEADERS = {
    "Cache-Control": "no-store",
    # The token is in the page's URL: no referrer carries it anywhere.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
_HTML_HEADERS = {
    **_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

# The token's shape is documented, not enforced by FastAPI: the route answers any token
# itself (a page for a browser, JSON otherwise), a malformed one a 400 like any bad token.
Token = Annotated[
    str,
    Path(
        description="the token of the mail's unsubscribe link",
        json_schema_extra={
            "minLength": 1,
            "maxLength": MAX_UNSUBSCRIBE_TOKEN,
            "pattern": UNSUBSCRIBE_TOKEN_PATTERN,
        },
    ),
]


def _answer(description: str, json_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": json_schema},
            "text/html": {"schema": {"type": "string"}},
        },
    }


_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
ERRORS: Responses = {
    400: _answer("Malformed token (cut or altered)", _ERROR),
    403: _answer("A token we did not issue", _ERROR),
    404: _answer("The sender (tenant) no longer exists", _ERROR),
    410: _answer("The token has expired", _ERROR),
    429: _answer("Too many bad tokens from this client: wait a minute", _ERROR),
}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "").lower()


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222}}button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style>
</head><body><h1>{title}</h1><p>{message}</p>{form}</body></html>
"""
_FORM = (
    '<form method="post">'
    '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">Unsubscribe</button></form>'
)


def _page(status: int, title: str, message: str, *, form: bool = False) -> HTMLResponse:
    html = _PAGE.format(title=escape(title), message=escape(message), form=_FORM if form else "")
    return HTMLResponse(html, status_code=status, headers=_HTML_HEADERS)


@dataclass(frozen=True)
class _Refused:
    """A refusal as both answers show it: the status, a code, a page title, a message."""

    status: int
    code: str
    title: str
    message: str


def _refusal(exc: Exception) -> _Refused:
    if isinstance(exc, BadUnsubscribeToken):
        titles = {
            "malformed": "This unsubscribe link is incomplete",
            "forged": "This unsubscribe link is not valid",
            "expired": "This unsubscribe link has expired",
        }
        hint = (
            " To stop these emails, reply to one and ask the sender to remove you."
            if exc.problem == "expired"
            else " Open the link from the email again, whole."
        )
        return _Refused(
            STATUS.get(exc.problem, 400),
            f"{exc.problem}_token",
            titles.get(exc.problem, titles["malformed"]),
            f"{exc}.{hint}",
        )
    if isinstance(exc, UnknownTenant):
        return _Refused(
            404,
            "unknown_sender",
            "Nothing to unsubscribe from",
            "the sender of this email no longer uses this service: nothing will be sent",
        )
    return _Refused(
        400,
        "malformed_token",
        "This unsubscribe link is not valid",
        "the address of this link cannot be unsubscribed",
    )


def _refused(request: Request, refused: _Refused) -> Response:
    client = _client(request)
    throttled = _throttled(request, client)
    if throttled is not None:
        return throttled
    limiter(request).failed(client)
    log.info("unsubscribe.refused", code=refused.code, status=refused.status)
    if _wants_html(request):
        return _page(refused.status, refused.title, refused.message)
    body = ErrorResponse(error=ErrorBody(code=refused.code, message=refused.message))
    return JSONResponse(body.model_dump(), status_code=refused.status, headers=_HEADERS)


def _throttled(request: Request, client: str) -> Response | None:
    if not limiter(request).blocked(client):
        return None
    refused = _Refused(
        429,
        "too_many_attempts",
        "Too many attempts",
        "too many invalid unsubscribe links from here: wait a minute and try again",
    )
    log.warning("unsubscribe.throttled")
    if _wants_html(request):
        response: Response = _page(429, refused.title, refused.message)
    else:
        body = ErrorResponse(error=ErrorBody(code=refused.code, message=refused.message))
        response = JSONResponse(body.model_dump(), status_code=429, headers=_HEADERS)
    response.headers["Retry-After"] = str(int(FAILURE_WINDOW_SECONDS))
    return response


def _run(request: Request, token: str, *, write: bool) -> Unsubscribed | _Refused:
    sessions: sessionmaker[Session] = request.app.state.sessions
    settings: Settings = request.app.state.settings
    if len(token) > MAX_UNSUBSCRIBE_TOKEN:
        return _refusal(BadUnsubscribeToken("malformed"))
    try:
        if not write:
            with sessions() as session:
                return check(session, settings, token)
        with sessions.begin() as session:
            return unsubscribe(session, settings, token, source=ONE_CLICK)
    except (BadUnsubscribeToken, UnknownTenant, BadSuppression) as exc:
        return _refusal(exc)


@router.post(
    "/{token}",
    response_model=UnsubscribeAnswer,
    responses={
        200: {
            "description": "Unsubscribed (or already): nothing more will be sent",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
    summary="One-click unsubscribe (RFC 8058): no key, the token is the credential",
)
async def post_unsubscribe(token: Token, request: Request) -> Response:
    """Suppress the token's address for its sender, cancel what is scheduled to it and
    stop its workflows; a repeat answers 200 `already_unsubscribed` and changes nothing.
    Any body or none (`List-Unsubscribe=One-Click`, form-encoded, by RFC 8058)."""
    outcome = await run_in_threadpool(_run, request, token, write=True)
    if isinstance(outcome, _Refused):
        return _refused(request, outcome)
    if outcome.added:
        answer = UnsubscribeAnswer(
            status="unsubscribed",
            message=f"{outcome.shown} is unsubscribed: no more emails will be sent to it",
        )
    else:
        answer = UnsubscribeAnswer(
            status="already_unsubscribed",
            message=f"{outcome.shown} was already unsubscribed: nothing changed",
        )
    if _wants_html(request):
        title = "You are unsubscribed" if outcome.added else "You were already unsubscribed"
        return _page(200, title, answer.message)
    return JSONResponse(answer.model_dump(), headers=_HEADERS)


@router.get(
    "/{token}",
    response_class=HTMLResponse,
    responses={
        200: {"description": "A page with the button that unsubscribes (a POST)"},
        **ERRORS,
    },
    summary="The unsubscribe page: a confirmation button; opening it changes nothing",
)
async def get_unsubscribe(token: Token, request: Request) -> Response:
    """Shows whom the link is for (the address masked) and a button that POSTs the token;
    never unsubscribes by itself (scanners and previews follow links)."""
    outcome = await run_in_threadpool(_run, request, token, write=False)
    if isinstance(outcome, _Refused):
        return _refused(request, outcome)
    if outcome.already is not None:
        return _page(
            200,
            "You are already unsubscribed",
            f"{outcome.shown} is not sent these emails any more.",
        )
    return _page(
        200,
        "Unsubscribe",
        f"Stop emails from this sender to {outcome.shown}? Press the button to confirm.",
        form=True,
    )
