"""Request-scoped dependencies shared by the operator routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker


def read_session(request: Request) -> Iterator[Session]:
    """A session for a read-only request (a sync dependency: FastAPI runs it in a thread)."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


ReadSession = Annotated[Session, Depends(read_session)]


# The `responses=` of a route: extra status codes and their models for the OpenAPI document.
Responses = dict[int | str, dict[str, Any]]
