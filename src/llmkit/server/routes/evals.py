"""``GET /v1/evals`` (recent eval runs), ``/v1/evals/{run}`` (one run) and ``/v1/evals/{run}/report`` (its HTML).

Read-only views of ``.llmkit/evals.db``, the store ``llmkit eval run`` writes, for the browser page and any
client. ``admin`` scope, like ``/v1/traces``: a run holds the prompts, passages and answers of its items.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from llmkit.errors import InputError, NotFound
from llmkit.server.deps import Caller, State, caller
from llmkit.server.state import ServerState
from llmkit.server.util import jsonable

if TYPE_CHECKING:
    from llmkit.evals.store import EvalStore, Run

router = APIRouter(prefix="/v1/evals", tags=["evals"])
T = TypeVar("T")

#: a run id, a unique prefix of one (4+ characters), ``latest`` or ``latest~N``
_REF = r"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$"
_LATEST = re.compile(r"^latest(~\d{1,6})?$")
#: The report is llmkit's own escaped HTML with inline CSS and SVG; it needs nothing else, so it gets nothing
#: else, and ``sandbox`` keeps it from running anything even if it were opened in the page's origin.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"


@router.get("", summary="Recent eval runs with their metrics and intervals, newest first (admin)")
async def list_runs(state: State, who: Annotated[Caller, Depends(caller("admin"))], limit: int = 20) -> Any:
    if not 1 <= limit <= 1000:
        raise InputError("limit must be between 1 and 1000")
    runs = await asyncio.to_thread(_with_store, state, lambda s: s.runs(limit=limit), missing=list)
    return {"object": "list", "data": [run_dict(r) for r in runs]}


@router.get("/{run}", summary="One eval run: metrics, prompts, models, dataset, timings (admin)")
async def get_run(
    run: Annotated[str, PathParam(pattern=_REF)], state: State, who: Annotated[Caller, Depends(caller("admin"))]
) -> Any:
    found = await asyncio.to_thread(_with_store, state, lambda s: s.get_run(_checked(run)))
    return run_dict(found)


@router.get("/{run}/report", response_class=HTMLResponse, summary="One eval run's HTML report (admin)")
async def report(
    run: Annotated[str, PathParam(pattern=_REF)], state: State, who: Annotated[Caller, Depends(caller("admin"))]
) -> HTMLResponse:
    from llmkit.evals.report import html_report

    def build(store: EvalStore) -> tuple[str, str]:
        found = store.get_run(_checked(run))
        return found.id, html_report(found, store.rows(found.id))

    run_id, html = await asyncio.to_thread(_with_store, state, build)
    headers = {
        "Content-Security-Policy": REPORT_CSP,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="eval-{run_id}.html"',
        "Cache-Control": "no-store",
    }
    return HTMLResponse(html, headers=headers)


def run_dict(run: Run) -> dict[str, Any]:
    """A run as JSON, with a link to its report; a metric no item scored has a NaN mean, sent as null."""
    from llmkit.evals.stats import finite

    return {"object": "eval.run", **finite(jsonable(run)), "report": f"/v1/evals/{run.id}/report"}


def _checked(ref: str) -> str:
    if ref.startswith("latest") and not _LATEST.match(ref):
        raise InputError(f"{ref!r}: use latest or latest~N")
    return ref


def _with_store(state: ServerState, use: Callable[[EvalStore], T], missing: Callable[[], T] | None = None) -> T:
    """``use(store)`` on the project's eval store, opened and closed on this thread. Without an ``evals.db``
    (no run yet) it answers ``missing()``, or 404: a read never creates the file."""
    from llmkit.evals.store import EvalStore

    path = state.settings.data_dir / "evals.db"
    if not path.exists():
        if missing is not None:
            return missing()
        raise NotFound("no eval runs yet", hint="`llmkit eval run SUITE.yaml` makes one")
    store = EvalStore(path)
    try:
        return use(store)
    finally:
        store.close()
