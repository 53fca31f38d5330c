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
# Terms per search: each adds two clauses to `q`; a bound keeps `q` short and the search cheap.
_TERMS_PER_QUERY = 8
# A term search needs only its best matches; more pages would cost calls, not relevance.
_SEARCH_PAGES = 2
_FILE_FIELDS = (
    "nextPageToken, files(id, name, description, mimeType, webViewLink, parents, "
    "modifiedTime, driveId, trashed)"
)


def _quote(value: str) -> str:
    # Drive's string literals: single quotes, with `\'` and `\\` escaped by a backslash.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _match_clause(term: str) -> str:
    """`name contains` (word prefixes) or `fullText contains` (whole words of the name,
    description and content); a term of several words is searched as an exact phrase,
    which Drive's fullText matches when the value is in double quotes."""
    words = term.split()
    text = f'"{" ".join(words)}"' if len(words) > 1 else term
    return f"name contains {_quote(term)} or fullText contains {_quote(text)}"


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
        # A search's answer, briefly: leads of one form share their industry and most
        # words, so a run of many leads (a backlog, an import) asks Drive the same question
        # again and again. A file added to a folder is offered within this time.
        self._searches: TTLCache[tuple[Any, ...], tuple[DriveFile, ...]] = TTLCache(
            maxsize=1024, ttl=cache_ttl_seconds
        )
        self._lock = threading.Lock()

    def _list(
        self, query: str, fields: str, order_by: str | None = None, pages: int = _MAX_PAGES
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        for _ in range(pages):
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
        """Live files under the folders (recursively) whose name or text matches a term:
        best match first (Drive's relevance) with terms, else the newest first."""
        if not folder_ids:
            return []
        allowed = self.allowed_folders(folder_ids)
        # Drive's tokens are letters and digits: a quote or a backslash adds nothing.
        words = [" ".join(t.replace('"', " ").split()) for t in terms]
        words = list(dict.fromkeys(w for w in words if w))[:_TERMS_PER_QUERY]
        key = (tuple(sorted(allowed)), tuple(words), max_results)
        with self._lock:
            cached = self._searches.get(key)
        if cached is None:
            cached = tuple(self._search(allowed, words, max_results))
            with self._lock:
                self._searches[key] = cached
        return list(cached)

    def _search(
        self, allowed: frozenset[str], words: Sequence[str], max_results: int
    ) -> list[DriveFile]:
        match = ""
        if words:
            match = " and (" + " or ".join(_match_clause(w) for w in words) + ")"
        # Drive refuses orderBy on a fullText query (403) and answers it by relevance.
        order_by = None if words else "modifiedTime desc"
        pages = _SEARCH_PAGES if words else _MAX_PAGES
        # (position in its answer, parents chunk) keeps each chunk's relevance order when
        # more than one query is needed, interleaving their best matches.
        found: dict[str, tuple[tuple[int, int], DriveFile]] = {}
        for chunk_index, chunk in enumerate(_chunks(sorted(allowed), _PARENTS_PER_QUERY)):
            query = (
                f"{_parents_clause(chunk)} and mimeType != '{FOLDER}' and trashed = false{match}"
            )
            items = self._list(query, _FILE_FIELDS, order_by=order_by, pages=pages)
            for position, item in enumerate(items):
                parents = tuple(str(p) for p in item.get("parents") or [])
                # The query already says so; checking the answer too means a server
                # that ignores part of `q` still cannot leak a file.
                if item.get("trashed") or item.get("mimeType") == FOLDER:
                    continue
                if not allowed.intersection(parents) or str(item["id"]) in found:
                    continue
                file = DriveFile(
                    id=str(item["id"]),
                    name=str(item.get("name", "")),
                    description=item.get("description") or None,
                    mime_type=str(item.get("mimeType", "")),
                    web_link=item.get("webViewLink"),
                    parents=parents,
                    modified_time=_modified(item),
                    drive_id=item.get("driveId"),
                )
                found[file.id] = ((position, chunk_index), file)
        if words:
            ordered = sorted(found.values(), key=lambda pair: pair[0])
            return [file for _, file in ordered][:max_results]

        def newest(file: DriveFile) -> float:
            return -(file.modified_time.timestamp() if file.modified_time else 0.0)

        return sorted((file for _, file in found.values()), key=newest)[:max_results]
