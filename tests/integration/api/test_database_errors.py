"""The API answers 503 with Retry-After while the database is unreachable (a restart):
HubSpot and other clients retry, and nothing was written. Other database errors stay 500."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError, ProgrammingError

from sales_agent_api.errors import install_error_handlers


def _client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/restarting")
    def restarting() -> None:
        raise OperationalError("INSERT ...", {}, Exception("server closed the connection"))

    @app.post("/bug")
    def bug() -> None:
        raise ProgrammingError("SELECT nope", {}, Exception("column nope does not exist"))

    return TestClient(app, raise_server_exceptions=False)


def test_a_lost_database_connection_is_a_503_to_retry() -> None:
    answer = _client().post("/restarting")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["error"]["code"] == "database_unavailable"
    assert "INSERT" not in answer.text


def test_a_statement_error_stays_a_server_error() -> None:
    assert _client().post("/bug").status_code == 500
