"""Google Drive in memory: folders and files, searched only under the folders asked for."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sales_agent_pipeline.domain.models import DriveFile
from tests.fakes.faults import FakeVendor

FOLDER = "application/vnd.google-apps.folder"


@dataclass
class _Item:
    file: DriveFile
    text: str = ""
    trashed: bool = False


class FakeDrive(FakeVendor):
    """The Drive port over a tree of folders; behaves as the adapter over Drive does.

    Only live files under the given folders (at any depth) are found, never a folder;
    a term matches any part of the name or the text; files naming
    more terms come first, then the most recently modified.
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, _Item] = {}
        self._ids = itertools.count(1)

    # Seeding, for tests.

    def add_folder(self, name: str, parent: str | None = None) -> str:
        """A folder (in `parent` when given); returns its id."""
        return self.add_file(name, parent, mime_type=FOLDER).id

    def add_file(
        self,
        name: str,
        parent: str | None = None,
        *,
        mime_type: str = "application/pdf",
        text: str = "",
        modified_time: datetime | None = None,
        trashed: bool = False,
    ) -> DriveFile:
        """A file with its text content, in `parent` when given."""
        file_id = f"f{next(self._ids)}"
        file = DriveFile(
            id=file_id,
            name=name,
            mime_type=mime_type,
            web_link=f"https://drive.google.com/file/d/{file_id}/view",
            parents=(parent,) if parent else (),
            modified_time=modified_time or datetime(2026, 1, 1, tzinfo=UTC),
        )
        self.items[file_id] = _Item(file, text, trashed)
        return file

    def trash(self, file_id: str) -> None:
        """The owner moves a file or folder to the trash."""
        self.items[file_id].trashed = True

    # The Drive port.

    def _tree(self, folder_ids: Sequence[str]) -> set[str]:
        seen = set(folder_ids)
        frontier = list(seen)
        while frontier:
            frontier = [
                i
                for i, item in self.items.items()
                if item.file.mime_type == FOLDER
                and not item.trashed
                and i not in seen
                and seen.intersection(item.file.parents)
            ]
            seen.update(frontier)
        return seen

    def find_files(
        self, folder_ids: Sequence[str], terms: Sequence[str] = (), max_results: int = 10
    ) -> list[DriveFile]:
        """Live files under the folders (recursively) whose name or text matches a term."""
        with self.request("find_files"):
            if not folder_ids:
                return []
            allowed = self._tree(folder_ids)
            words = [t.strip().lower() for t in terms if t.strip()]
            found = [
                item.file
                for item in self.items.values()
                if item.file.mime_type != FOLDER
                and not item.trashed
                and allowed.intersection(item.file.parents)
                # `fullText contains` looks at the name and the text.
                and (not words or any(w in f"{item.file.name} {item.text}".lower() for w in words))
            ]

            def rank(file: DriveFile) -> tuple[int, float]:
                hits = sum(1 for w in words if w in file.name.lower())
                stamp = file.modified_time.timestamp() if file.modified_time else 0.0
                return (-hits, -stamp)

            return sorted(found, key=rank)[:max_results]
