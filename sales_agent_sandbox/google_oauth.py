"""Google's token endpoint (POST /token): point a key file's token_uri at `<sandbox>/token`.

Takes the JWT-bearer grant google-auth's service_account.Credentials sends and the
refresh-token grant of an authorized-user file (google.oauth2.credentials), and answers
as oauth2.googleapis.com does, refusals included.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .deps import StoreDep, form_fields
from .google_auth import JWT_BEARER, GoogleRefusal

router = APIRouter(tags=["google-oauth"])


def _refusal(exc: GoogleRefusal) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description}, status_code=exc.status
    )


@router.post("/token")
async def token(request: Request, store: StoreDep) -> JSONResponse:
    """Issue an access token bound to one subject."""
    field = await form_fields(request)
    grant_type = field.get("grant_type", "")
    auth = store.google_auth
    token_url = str(request.url.replace(query=""))
    try:
        if grant_type == JWT_BEARER:
            access, seconds, scope = auth.jwt_grant(field.get("assertion", ""), token_url)
        elif grant_type == "refresh_token":
            access, seconds, scope = auth.refresh_grant(
                field.get("client_id", ""),
                field.get("client_secret", ""),
                field.get("refresh_token", ""),
                field.get("scope", ""),
            )
        elif not grant_type:
            raise GoogleRefusal("invalid_request", "Missing required parameter: grant_type")
        else:
            raise GoogleRefusal("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    except GoogleRefusal as exc:
        return _refusal(exc)
    request.state.subject = auth.subject(access)
    return JSONResponse(
        {"access_token": access, "expires_in": seconds, "scope": scope, "token_type": "Bearer"}
    )
