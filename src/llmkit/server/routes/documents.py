"""Collections and their documents: create, list, delete; multipart upload through the Ingestor."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from llmkit.errors import InputError
from llmkit.server.deps import Caller, State, caller
from llmkit.server.errors import ApiError
from llmkit.server.schemas import CollectionIn
from llmkit.server.state import ServerState
from llmkit.server.util import jsonable

router = APIRouter(prefix="/v1/collections", tags=["collections"])
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_CHUNK = 1 << 20


@router.get("", summary="List collections with their counts")
async def list_collections(state: State, who: Annotated[Caller, Depends(caller(None))]) -> Any:
    infos = await asyncio.to_thread(state.kit.collections)
    return {"object": "list", "data": jsonable([c for c in infos if _visible(who, c.name)])}


@router.post("", status_code=201, summary="Create an empty collection with the configured embedder")
async def create_collection(body: CollectionIn, state: State, who: Annotated[Caller, Depends(caller("ingest"))]) -> Any:
    who.require("ingest", body.name)
    embedder = state.embedder

    def create() -> Any:
        return state.kit.store.create_collection(body.name, embedder=embedder.name, dim=embedder.dim)

    return jsonable(await asyncio.to_thread(create))


@router.delete("/{name}", summary="Delete a collection and everything in it (admin)")
async def delete_collection(
    name: Annotated[str, _path()], state: State, who: Annotated[Caller, Depends(caller("admin"))]
) -> Any:
    await asyncio.to_thread(state.kit.delete_collection, name)
    return {"id": name, "object": "collection", "deleted": True}


@router.get("/{name}/documents", summary="List a collection's documents")
async def list_documents(
    name: Annotated[str, _path()],
    state: State,
    who: Annotated[Caller, Depends(caller(None))],
    limit: int = 100,
) -> Any:
    if not 1 <= limit <= 10_000:
        raise InputError("limit must be between 1 and 10000")
    if not _visible(who, name):
        who.require("query", name)
    docs = await asyncio.to_thread(state.kit.documents, name, limit=limit)
    return {"object": "list", "data": jsonable(docs)}


@router.delete("/{name}/documents/{doc_id}", summary="Delete one document and its chunks")
async def delete_document(
    name: Annotated[str, _path()],
    doc_id: Annotated[str, _path(r"^[A-Za-z0-9_.:-]{1,128}$")],
    state: State,
    who: Annotated[Caller, Depends(caller("ingest"))],
) -> Any:
    who.require("ingest", name)
    if not await asyncio.to_thread(state.kit.delete_document, doc_id, name):
        raise ApiError(404, f"no document {doc_id!r} in {name!r}", type="not_found_error", code="not_found")
    return {"id": doc_id, "object": "document", "deleted": True}


@router.post("/{name}/documents", status_code=201, summary="Upload files (multipart) and ingest them")
async def upload(
    name: Annotated[str, _path()],
    files: Annotated[list[UploadFile], File(description="documents: .md .txt .pdf .html .docx .csv .json ...")],
    state: State,
    who: Annotated[Caller, Depends(caller("ingest"))],
    metadata: Annotated[str | None, Form(description="JSON object stored with every document")] = None,
) -> Any:
    who.require("ingest", name)
    meta = _metadata(metadata)
    limit = int(state.settings.ingest.max_file_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="llmkit-upload-") as tmp:
        paths = [await _save(f, Path(tmp), limit) for f in files]
        report = await asyncio.to_thread(_ingest, state, paths, name, meta, Path(tmp))
    return jsonable(report)


def _visible(who: Caller, collection: str) -> bool:
    """Whether the caller may see ``collection``: to query it or to ingest into it."""
    return who.allows("query", collection) or who.allows("ingest", collection)


def _path(pattern: str = _NAME) -> Any:
    from fastapi import Path as PathParam

    return PathParam(pattern=pattern)


def _ingest(state: ServerState, paths: list[Path], name: str, meta: dict[str, Any], base: Path) -> Any:
    from llmkit.ingest.pipeline import Ingestor

    kit = state.kit
    ingestor = Ingestor(kit.store, kit.embedder, kit.settings.ingest)
    return ingestor.run([str(p) for p in paths], name, metadata=meta, base=base)


def _metadata(text: str | None) -> dict[str, Any]:
    import json

    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"metadata is not valid JSON: {e.msg}") from None
    if not isinstance(value, dict):
        raise InputError("metadata must be a JSON object")
    return value


async def _save(upload: UploadFile, folder: Path, limit: int) -> Path:
    """Write one upload under ``folder`` by its bare file name, checking its type and size."""
    from llmkit.ingest.loaders import EXTENSIONS

    name = PurePath((upload.filename or "").replace("\\", "/")).name
    if not name or name.startswith(".") or len(name) > 255:
        raise InputError(f"bad file name {upload.filename!r}")
    if PurePath(name).suffix.lower() not in EXTENSIONS:
        raise ApiError(415, f"{name}: unsupported file type; supported: {' '.join(sorted(EXTENSIONS))}",
                       code="unsupported_file_type", param="files")  # fmt: skip
    path = folder / name
    if path.exists():
        raise InputError(f"{name} is given twice")
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"{name} is over the {limit / 1048576:g} MB limit (ingest.max_file_mb)",
                               code="file_too_large", param="files")  # fmt: skip
            out.write(chunk)
    if size == 0:
        raise InputError(f"{name} is empty")
    return path
