"""deploy/Dockerfile read as the builder reads it, for tests that prove the image's steps
on this machine (no container daemon here): its stages and instructions, the RUN commands
marked `# ci: install`, and the image's absolute paths mapped into a folder of the host.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_MARK = "# ci: install"
# The image's own paths; everything else (/usr, /bin, /root/.cache) is the base image's.
# The image's /tmp is mapped like the rest, never the host's.
IMAGE_ROOTS = ("/opt", "/app", "/src", "/var/lib", "/tmp", "/home/app")  # noqa: S108
_IMAGE_PATH = re.compile(
    r"(?<![\w./])(" + "|".join(re.escape(root) for root in IMAGE_ROOTS) + r")(?=/|\b|$)"
)
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class Instruction:
    """One instruction: its keyword, its leading --flags, the rest, and its line."""

    keyword: str
    flags: list[str]
    arguments: str
    line: int
    marked: bool = False

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD (or of HEALTHCHECK's CMD)."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            assert text.startswith("CMD "), f"line {self.line}: HEALTHCHECK without CMD"
            text = text.removeprefix("CMD ").strip()
        form = json.loads(text)
        assert isinstance(form, list)
        assert all(isinstance(arg, str) for arg in form)
        return form


@dataclass
class Stage:
    """A FROM and what follows it up to the next FROM."""

    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """This stage's instructions with `keyword`, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def workdir(self) -> str:
        """The stage's last WORKDIR (this file sets one before any relative path)."""
        workdirs = self.all("WORKDIR")
        assert workdirs, f"stage {self.name} has no WORKDIR"
        return workdirs[-1].arguments


def _logical_lines(text: str) -> list[tuple[int, str, bool]]:
    """(first line number, instruction text, marked) with continuations joined; comment
    lines inside a continuation are dropped as the builder drops them."""
    result: list[tuple[int, str, bool]] = []
    marked = False
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            # The mark holds across the comments after it, up to the next instruction.
            marked = marked or (not current and stripped == INSTALL_MARK)
            continue
        if not stripped:
            continue
        if not current:
            start = number
        if stripped.endswith("\\"):
            current.append(stripped[:-1].rstrip())
            continue
        current.append(stripped)
        result.append((start, " ".join(current), marked))
        current, marked = [], False
    assert not current, "the Dockerfile ends inside a continuation"
    return result


def parse(text: str) -> list[Stage]:
    """The stages of a Dockerfile, with global ARG defaults expanded in FROM."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, body, marked in _logical_lines(text):
        keyword, _, rest = body.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        flags: list[str] = []
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
            continue
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            base = _VARIABLE.sub(lambda m: args[m.group(1) or m.group(2)], base.strip())
            stages.append(Stage(name=name.strip() or str(len(stages)), base=base))
            continue
        assert stages, f"line {line}: {keyword} before FROM"
        stages[-1].instructions.append(Instruction(keyword, flags, rest, line, marked))
    return stages


def stage(stages: list[Stage], name: str) -> Stage:
    """The stage called `name`."""
    found = [s for s in stages if s.name == name]
    assert found, f"no stage {name!r} in {[s.name for s in stages]}"
    return found[0]


def install_commands(stages: list[Stage]) -> list[Instruction]:
    """The RUN instructions marked `# ci: install`, in build order."""
    return [i for s in stages for i in s.all("RUN") if i.marked]


class HostPaths:
    """The image's absolute paths (/opt, /app, /src, /var/lib, /tmp) under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, text: str) -> str:
        """`text` with every image path moved under the root."""
        return _IMAGE_PATH.sub(lambda m: f"{self.root}{m.group(1)}", text)

    def path(self, image_path: str) -> Path:
        """One absolute image path as a host path."""
        assert image_path.startswith("/"), image_path
        return Path(self(image_path))


def stage_environment(target: Stage, host: HostPaths, base: dict[str, str]) -> dict[str, str]:
    """`base` plus the stage's ENV (in order, `$VAR` expanded as the builder does), with
    image paths mapped to the host."""
    env = dict(base)
    for instruction in target.all("ENV"):
        for pair in shlex.split(instruction.arguments):
            name, sep, value = pair.partition("=")
            assert sep, f"line {instruction.line}: ENV {pair!r} is not NAME=value"
            value = host(value)
            env[name] = _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)
    return env


def copy_into(target: Stage, context: Path, host: HostPaths) -> None:
    """Do the stage's COPY instructions from the build context (not --from another
    stage): a folder's contents into the destination, a file into a folder ending in
    "/" or to the destination's name; __pycache__ left out as .dockerignore does."""
    workdir = host.path(target.workdir())
    for instruction in target.all("COPY"):
        if any(flag.startswith("--from=") for flag in instruction.flags):
            continue
        *sources, destination = shlex.split(instruction.arguments)
        dest = Path(host(destination)) if destination.startswith("/") else workdir / destination
        for source in sources:
            src = context / source
            assert src.exists(), f"line {instruction.line}: COPY {source}: not in the context"
            if src.is_dir():
                shutil.copytree(
                    src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                )
            elif destination.endswith("/") or len(sources) > 1:
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / src.name)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)


def made_folders(target: Stage) -> list[str]:
    """The folders the stage's RUN instructions make with `mkdir -p`."""
    folders: list[str] = []
    for instruction in target.all("RUN"):
        words = shlex.split(instruction.arguments)
        for index, word in enumerate(words):
            if word == "mkdir" and words[index + 1 : index + 2] == ["-p"]:
                for folder in words[index + 2 :]:
                    if not folder.startswith("/"):
                        break
                    folders.append(folder)
    return folders
