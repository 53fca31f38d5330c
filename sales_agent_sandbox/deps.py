"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Request

from .faults import Faults
from .state import Portal, Store


def get_store(request: Request) -> Store:
    """Return the app's store."""
    store: Store = request.app.state.store
    return store


def get_faults(request: Request) -> Faults:
    """Return the app's fault and rate-limit registry."""
    faults: Faults = request.app.state.faults
    return faults


def get_portal(request: Request) -> Portal:
    """Return the HubSpot portal the request's bearer token maps to."""
    store = get_store(request)
    return store.portal(request.state.portal_id)


def google_subject(request: Request) -> str | None:
    """The subject the request's Google token acts as; None for an anonymous request."""
    subject: str | None = getattr(request.state, "google_subject", None)
    return subject


def gmail_user(request: Request, user_id: str) -> str:
    """The mailbox a Gmail request is for: `me` is the token's subject, or without a token
    the default user (the gate has refused other users' mailboxes already)."""
    if user_id != "me":
        return user_id
    return google_subject(request) or get_store(request).config.default_google_user


def touch(request: Request, **kinds: Iterable[Any]) -> None:
    """Tell the request log what this request read or wrote (calendars, Drive owners...)."""
    request.state.touched = {kind: sorted(set(values)) for kind, values in kinds.items() if values}


async def form_fields(request: Request) -> dict[str, str]:
    """A form-encoded body as OAuth token endpoints read it: each field a string, "" if empty."""
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


StoreDep = Annotated[Store, Depends(get_store)]
FaultsDep = Annotated[Faults, Depends(get_faults)]
PortalDep = Annotated[Portal, Depends(get_portal)]
GoogleSubjectDep = Annotated[str | None, Depends(google_subject)]
GmailUser = Annotated[str, Depends(gmail_user)]
