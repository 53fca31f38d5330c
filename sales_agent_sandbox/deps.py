"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

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


StoreDep = Annotated[Store, Depends(get_store)]
FaultsDep = Annotated[Faults, Depends(get_faults)]
PortalDep = Annotated[Portal, Depends(get_portal)]
