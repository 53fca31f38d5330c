"""Drive v3 files.list with search, shared-drive corpora, partial responses and paging."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from .deps import GoogleSubjectDep, StoreDep, touch
from .drive_query import check_fields, compile_search, parse_fields, relevance, select
from .errors import GoogleError
from .google_auth import domain_of
from .state import DriveFile, Store, iso

router = APIRouter(tags=["drive"])

FOLDER = "application/vnd.google-apps.folder"
FILE_FIELDS = {
    "kind",
    "id",
    "name",
    "mimeType",
    "description",
    "starred",
    "trashed",
    "explicitlyTrashed",
    "parents",
    "webViewLink",
    "webContentLink",
    "iconLink",
    "thumbnailLink",
    "createdTime",
    "modifiedTime",
    "size",
    "driveId",
    "teamDriveId",
    "owners",
    "shared",
    "fileExtension",
    "fullFileExtension",
    "md5Checksum",
    "version",
    "resourceKey",
    "capabilities",
    "lastModifyingUser",
    "properties",
    "appProperties",
    "spaces",
    "viewedByMeTime",
}
LIST_FIELDS = {"kind", "nextPageToken", "incompleteSearch", "files"}
DEFAULT_FIELDS = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)"
DEFAULT_FILE_FIELDS = "kind,id,name,mimeType"
# Folders nest far less deep than this; the bound only stops a seeded cycle.
_MAX_DEPTH = 32
_ORDER_KEYS = {
    "name": "name",
    "name_natural": "name",
    "modifiedTime": "modified_time",
    "createdTime": "created_time",
    "starred": "starred",
    "folder": "folder",
}


def _link(file: DriveFile) -> str:
    if file.mime_type == FOLDER:
        return f"https://drive.google.com/drive/folders/{file.id}"
    if file.mime_type.startswith("application/vnd.google-apps."):
        kind = file.mime_type.rsplit(".", 1)[-1]
        return f"https://docs.google.com/{kind}/d/{file.id}/edit?usp=drivesdk"
    return f"https://drive.google.com/file/d/{file.id}/view?usp=drivesdk"


def _granted(grants: list[str], viewer: str) -> bool:
    return viewer in grants or f"domain:{domain_of(viewer)}" in grants


def visible(store: Store, file: DriveFile, viewer: str | None, depth: int = 0) -> bool:
    """Whether `viewer` (None: anonymous, who sees all) can see a file: its owner, those it
    or a folder above it is shared with, and a shared drive's members."""
    if viewer is None:
        return True
    if file.drive_id:
        drive = store.shared_drives.get(file.drive_id)
        return drive is not None and _granted(drive.members, viewer)
    if file.owner_email.lower() == viewer or _granted(file.shared_with, viewer):
        return True
    return depth < _MAX_DEPTH and any(
        visible(store, store.drive_files[parent], viewer, depth + 1)
        for parent in file.parents
        if parent in store.drive_files
    )


def _touch(request: Request, files: list[DriveFile]) -> None:
    touch(
        request,
        driveOwners=[f.owner_email.lower() for f in files if not f.drive_id],
        sharedDrives=[f.drive_id for f in files if f.drive_id],
    )


def file_json(file: DriveFile, viewer: str | None = None) -> dict[str, Any]:
    """Serialise a file as Drive's File resource (as `viewer` sees it)."""
    body: dict[str, Any] = {
        "kind": "drive#file",
        "id": file.id,
        "name": file.name,
        "mimeType": file.mime_type,
        "parents": list(file.parents),
        "starred": file.starred,
        "trashed": file.trashed,
        "explicitlyTrashed": file.trashed,
        "webViewLink": _link(file),
        "iconLink": f"https://drive-thirdparty.googleusercontent.com/16/type/{file.mime_type}",
        "createdTime": iso(file.created_time),
        "modifiedTime": iso(file.modified_time),
        "version": "1",
        "spaces": ["drive"],
    }
    if file.description:
        body["description"] = file.description
    if file.mime_type != FOLDER and not file.mime_type.startswith("application/vnd.google-apps."):
        body["size"] = str(file.size if file.size is not None else len(file.content.encode()))
        if "." in file.name:
            body["fileExtension"] = body["fullFileExtension"] = file.name.rsplit(".", 1)[-1]
    if file.drive_id:
        body["driveId"] = body["teamDriveId"] = file.drive_id
    else:
        body["owners"] = [
            {
                "kind": "drive#user",
                "emailAddress": file.owner_email,
                "displayName": file.owner_email,
                "me": viewer is None or viewer == file.owner_email.lower(),
            }
        ]
    return body


def _bad(message: str, location: str) -> GoogleError:
    return GoogleError(400, message, "invalid", location=location)


def _attr_key(attr: str) -> Callable[[DriveFile], Any]:
    return lambda f: getattr(f, attr)


def _order(files: list[DriveFile], order_by: str | None, full_text: list[str]) -> list[DriveFile]:
    if full_text:
        # Drive answers a full-text query best match first (the rule: drive_query's docstring).
        files.sort(key=lambda f: f.id)
        files.sort(key=lambda f: f.modified_time, reverse=True)
        return sorted(files, key=lambda f: relevance(f, full_text), reverse=True)
    if not order_by:
        return sorted(files, key=lambda f: f.name.lower())
    for clause in reversed([c.strip() for c in order_by.split(",") if c.strip()]):
        key, _, direction = clause.partition(" ")
        if key not in _ORDER_KEYS or direction.strip() not in ("", "desc"):
            raise _bad(f"Invalid Value: orderBy {clause}", "orderBy")
        attr = _ORDER_KEYS[key]
        if attr == "folder":
            files.sort(key=lambda f: f.mime_type != FOLDER, reverse=bool(direction.strip()))
        elif attr == "name":
            files.sort(key=lambda f: f.name.lower(), reverse=bool(direction.strip()))
        else:
            files.sort(key=_attr_key(attr), reverse=bool(direction.strip()))
    return files


@router.get("/drive/v3/files")
def list_files(
    request: Request,
    store: StoreDep,
    viewer: GoogleSubjectDep,
    q: str | None = None,
    page_size: Annotated[int, Query(alias="pageSize")] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
    order_by: Annotated[str | None, Query(alias="orderBy")] = None,
    fields: str | None = None,
    corpora: str | None = None,
    drive_id: Annotated[str | None, Query(alias="driveId")] = None,
    supports_all_drives: Annotated[bool, Query(alias="supportsAllDrives")] = False,
    supports_team_drives: Annotated[bool, Query(alias="supportsTeamDrives")] = False,
    include_all: Annotated[bool, Query(alias="includeItemsFromAllDrives")] = False,
    include_team: Annotated[bool, Query(alias="includeTeamDriveItems")] = False,
    spaces: str | None = None,
) -> dict[str, Any]:
    """List files matching `q` within the chosen corpus, a page at a time."""
    supports = supports_all_drives or supports_team_drives
    include = include_all or include_team
    if not 1 <= page_size <= 1000:
        raise _bad("Invalid Value: pageSize must be between 1 and 1000", "pageSize")
    if include and not supports:
        raise _bad(
            "The includeItemsFromAllDrives parameter can only be set to true when "
            "supportsAllDrives is also true.",
            "includeItemsFromAllDrives",
        )
    corpus = corpora or ("drive" if drive_id else "user")
    if corpus not in ("user", "drive", "allDrives", "domain"):
        raise _bad(f"Invalid Value: corpora {corpus}", "corpora")
    if corpus == "drive" and not drive_id:
        raise _bad("The driveId parameter is required when corpora is drive.", "driveId")
    if drive_id and corpus != "drive":
        raise _bad("The corpora parameter must be drive when driveId is set.", "corpora")
    if corpus in ("drive", "allDrives") and not include:
        raise _bad(
            "includeItemsFromAllDrives must be true for this corpora.", "includeItemsFromAllDrives"
        )
    tree = parse_fields(fields or DEFAULT_FIELDS)
    check_fields(tree, LIST_FIELDS, {"files": FILE_FIELDS})
    predicate, full_text = compile_search(q, viewer)
    if full_text and order_by:
        # What Drive answers (a 403, not a 400) when a full-text query asks for a sort.
        raise GoogleError(
            403,
            "Sorting is not supported for queries with fullText terms. "
            "Results are always in descending relevance order.",
            "forbidden",
            location="orderBy",
        )
    with store.locked():
        if drive_id and drive_id not in store.shared_drives:
            raise GoogleError(
                404, f"Shared drive not found: {drive_id}", "notFound", location="driveId"
            )
        candidates = [
            f
            for f in store.drive_files.values()
            if (
                (corpus == "allDrives")
                or (corpus == "drive" and f.drive_id == drive_id)
                or (corpus in ("user", "domain") and f.drive_id is None)
            )
            and visible(store, f, viewer)
        ]
        hits = _order([f for f in candidates if predicate(f)], order_by, full_text)
    try:
        start = int(base64.urlsafe_b64decode((page_token or "MA==").encode()).decode())
    except ValueError as exc:
        raise _bad("Invalid Value: pageToken", "pageToken") from exc
    page = hits[start : start + page_size]
    _touch(request, page)
    body: dict[str, Any] = {
        "kind": "drive#fileList",
        "incompleteSearch": False,
        "files": [file_json(f, viewer) for f in page],
    }
    if start + page_size < len(hits):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(start + page_size).encode()).decode()
    selected: dict[str, Any] = select(body, tree)
    return selected


@router.get("/drive/v3/files/{file_id}")
def get_file(
    file_id: str,
    request: Request,
    store: StoreDep,
    viewer: GoogleSubjectDep,
    fields: str | None = None,
    supports_all_drives: Annotated[bool, Query(alias="supportsAllDrives")] = False,
    supports_team_drives: Annotated[bool, Query(alias="supportsTeamDrives")] = False,
) -> dict[str, Any]:
    """One file's metadata; a file the caller cannot see is Drive's 404, like a missing one
    (and so is a shared drive's file asked without supportsAllDrives)."""
    tree = parse_fields(fields or DEFAULT_FILE_FIELDS)
    check_fields(tree, FILE_FIELDS, {})
    with store.locked():
        found = store.drive_files.get(file_id)
        shown = (
            found is not None
            and visible(store, found, viewer)
            and (not found.drive_id or supports_all_drives or supports_team_drives)
        )
        if found is None or not shown:
            raise GoogleError(
                404,
                f"File not found: {file_id}.",
                "notFound",
                location="fileId",
            )
        body = file_json(found, viewer)
    _touch(request, [found])
    selected: dict[str, Any] = select(body, tree)
    return selected
