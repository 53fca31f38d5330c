"""The Drive protocol on google-api-python-client's Drive v3, fenced to allowlisted folders."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from cachetools import TTLCache

from sales_agent_pipeline.connectors.google_auth import GoogleApi
from sales_agent_pipeline.domain.models import DriveFile

FOLDER = "application/vnd.google-apps.folder"
# Parents per query: keeps `q` well under Drive's query length limit.
_PARENTS_PER_QUERY = 20
# A runaway folder tree must not turn one lookup into thousands of calls.
_MAX_FOLDERS = 500
_MAX_PAGES = 10
_FILE_FIELDS = (
    "nextPageToken, files(id, name, mimeType, webViewLink, parents, modifiedTime, driveId, trashed)"
)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _parents_clause(folder_ids: Sequence[str]) -> str:
    return "(" + " or ".join(f"{_quote(f)} in parents" for f in folder_ids) + ")"


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def _files_list(service: Any, params: dict[str, Any]) -> Any:
    return service.files().list(**params)


def _modified(data: dict[str, Any]) -> datetime | None:
    value = data.get("modifiedTime")
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class GoogleDrive:
    """Drive adapter: only files under allowlisted folders, never trashed ones."""

    def __init__(self, api: GoogleApi, cache_ttl_seconds: float = 300.0) -> None:
        self._api = api
        # Folder trees change rarely; every workflow of a tenant walks the same one.
        self._trees: TTLCache[tuple[str, ...], frozenset[str]] = TTLCache(
            maxsize=256, ttl=cache_ttl_seconds
        )
        self._lock = threading.Lock()

    def _list(
        self, query: str, fields: str, order_by: str | None = None
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        for _ in range(_MAX_PAGES):
            params: dict[str, Any] = {
                "q": query,
                "fields": fields,
                "pageSize": 100,
                "supportsAllDrives": True,
                "includeItemsFromAllDrives": True,
                "corpora": "allDrives",
            }
            if order_by:
                params["orderBy"] = order_by
            if token:
                params["pageToken"] = token
            answer = self._api.execute("files.list", partial(_files_list, params=params))
            yield from answer.get("files") or []
            token = answer.get("nextPageToken")
            if not token:
                return

    def allowed_folders(self, folder_ids: Sequence[str]) -> frozenset[str]:
        """The allowlisted folders and every live subfolder, walked breadth-first."""
        key = tuple(sorted(set(folder_ids)))
        with self._lock:
            cached = self._trees.get(key)
        if cached is not None:
            return cached
        seen = set(key)
        frontier = list(key)
        while frontier and len(seen) < _MAX_FOLDERS:
            following: list[str] = []
            for chunk in _chunks(frontier, _PARENTS_PER_QUERY):
                query = f"{_parents_clause(chunk)} and mimeType = '{FOLDER}' and trashed = false"
                for item in self._list(query, "nextPageToken, files(id, trashed)"):
                    folder_id = str(item["id"])
                    if not item.get("trashed") and folder_id not in seen:
                        seen.add(folder_id)
                        following.append(folder_id)
            frontier = following
        tree = frozenset(seen)
        with self._lock:
            self._trees[key] = tree
        return tree

    def find_files(
        self, folder_ids: Sequence[str], terms: Sequence[str] = (), max_results: int = 10
    ) -> list[DriveFile]:
        """Live files under the folders (recursively) whose name or text matches a term."""
        if not folder_ids:
            return []
        allowed = self.allowed_folders(folder_ids)
        words = [t.strip() for t in terms if t.strip()]
        match = ""
        if words:
            match = (
                " and ("
                + " or ".join(
                    f"name contains {_quote(w)} or fullText contains {_quote(w)}" for w in words
                )
                + ")"
            )
        found: dict[str, DriveFile] = {}
        for chunk in _chunks(sorted(allowed), _PARENTS_PER_QUERY):
            query = (
                f"{_parents_clause(chunk)} and mimeType != '{FOLDER}' and trashed = false{match}"
            )
            for item in self._list(query, _FILE_FIELDS, order_by="modifiedTime desc"):
                parents = tuple(str(p) for p in item.get("parents") or [])
                # The query already says so; checking the answer too means a server
                # that ignores part of `q` still cannot leak a file.
                if item.get("trashed") or not allowed.intersection(parents):
                    continue
                found[str(item["id"])] = DriveFile(
                    id=str(item["id"]),
                    name=str(item.get("name", "")),
                    mime_type=str(item.get("mimeType", "")),
                    web_link=item.get("webViewLink"),
                    parents=parents,
                    modified_time=_modified(item),
                    drive_id=item.get("driveId"),
                )
        lowered = [w.lower() for w in words]

        def rank(file: DriveFile) -> tuple[int, float]:
            hits = sum(1 for w in lowered if w in file.name.lower())
            stamp = file.modified_time.timestamp() if file.modified_time else 0.0
            return (-hits, -stamp)

        return sorted(found.values(), key=rank)[:max_results]
