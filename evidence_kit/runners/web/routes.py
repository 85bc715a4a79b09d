"""The pages and the JSON API (documented in the README, "Web app"). Handlers only translate HTTP to the
library: facts through ``cases``, builds through ``jobs`` (``api.build``), checks through ``api.verify``."""
from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ... import api
from ...errors import EvidenceKitError, VerifyError
from ...model.archive import PackageCheckFailed, write_zip
from ...model.case import PACKAGE_DIR
from ...model.package import PackagePathError, package_file as checked_package_file
from . import cases, i18n, previews, views
from .cases import APP_DIR, Invalid, NotFound
from .pages import render_page
from .security import DRAIN_LIMIT
from .uploads import BadUpload, TooLarge, receive_upload

# Served inline; anything else (HTML pages, JSON, CSV, ...) is a download that never runs in the app's origin.
INLINE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif", "video/mp4", "video/webm",
                "video/quicktime", "application/pdf", "text/plain"}


def _problems(status: int, *problems: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"problems": list(problems), **extra}, status_code=status, headers=headers)


def _invalid(exc: Invalid) -> JSONResponse:
    fields: dict[str, list[str]] = {}
    for problem in exc.problems:
        fields.setdefault(cases.field_of(problem), []).append(problem)
    return _problems(422, *exc.problems, fields=fields)


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise Invalid(["the request body is not valid JSON"]) from None


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _root(request: Request) -> Path:
    return cases.case_root(_settings(request).workspace, request.path_params["case"])


def _cache(request: Request) -> Path:
    return _settings(request).workspace / APP_DIR


# --- pages --------------------------------------------------------------------------------------------------

async def index(request: Request) -> Response:
    rows = await run_in_threadpool(cases.list_cases, _settings(request).workspace)
    titles = {r["key"]: r["title"] for r in views.reasons()}
    for row in rows:
        row["banner"] = views.deadline_banner(row["deadline"])
        row["reason_title"] = titles.get(row["reason"], row["reason"])
    return render_page(request, "index.html", cases=rows, facts={}, case_id=None)


DAMAGED_PACKAGE = i18n.N_("The package cannot be read (its list of files, manifest.json, is damaged or empty): "
                          "press Build to make it again.")


def _result(root: Path, checked_at: float | None) -> dict[str, Any] | None:
    """``views.result_view``, or the plain note that the package must be built again when its manifest is
    damaged (emptied, garbage, or valid JSON of another shape): never a 500 for the whole page."""
    if not cases.package_readable(root):
        return {"damaged": i18n.gettext(DAMAGED_PACKAGE)}
    try:
        return views.result_view(root, checked_at)
    except (EvidenceKitError, KeyError, TypeError, ValueError, AttributeError, IndexError, OSError):
        return {"damaged": i18n.gettext(DAMAGED_PACKAGE)}  # a record of the wrong shape inside it


async def case_page(request: Request) -> Response:
    root = _root(request)
    facts, problems = await run_in_threadpool(cases.read_facts, root)
    files = await run_in_threadpool(views.files_view, root, facts, _cache(request))
    result = await run_in_threadpool(_result, root, request.app.state.jobs.checked.get(root.name))
    return render_page(request, "case.html", case_id=root.name, facts=facts, problems=problems, files=files,
                 result=result)


async def files_fragment(request: Request) -> Response:
    root = _root(request)
    facts, _ = await run_in_threadpool(cases.read_facts, root)
    files = await run_in_threadpool(views.files_view, root, facts, _cache(request))
    return render_page(request, "_files.html", case_id=root.name, facts=facts, files=files)


async def result_fragment(request: Request) -> Response:
    root = _root(request)
    result = await run_in_threadpool(_result, root, request.app.state.jobs.checked.get(root.name))
    return render_page(request, "_result.html", case_id=root.name, result=result)


# --- facts --------------------------------------------------------------------------------------------------

async def list_cases(request: Request) -> Response:
    rows = await run_in_threadpool(cases.list_cases, _settings(request).workspace)
    return JSONResponse({"cases": rows})


async def create_case(request: Request) -> Response:
    facts = await _json_body(request)
    case_id = await run_in_threadpool(cases.create_case, _settings(request).workspace, facts)
    return JSONResponse({"id": case_id}, status_code=201, headers={"location": f"/api/cases/{case_id}"})


async def get_case(request: Request) -> Response:
    root = _root(request)
    facts, problems = await run_in_threadpool(cases.read_facts, root)
    return JSONResponse({"id": root.name, "facts": facts, "problems": problems})


async def put_case(request: Request) -> Response:
    root = _root(request)
    facts = await _json_body(request)
    await run_in_threadpool(cases.replace_facts, root, facts)
    return JSONResponse({"id": root.name})


# --- files --------------------------------------------------------------------------------------------------

async def list_files(request: Request) -> Response:
    return JSONResponse({"files": await run_in_threadpool(cases.media_files, _root(request))})


async def upload_files(request: Request) -> Response:
    root = _root(request)
    limit = _settings(request).max_upload_bytes
    kind = request.query_params.get("kind", "auto")
    if kind not in cases.KINDS:
        return _problems(422, f"kind: unknown value {kind!r} (valid: {', '.join(cases.KINDS)})")
    too_large = i18n.gettext("the upload is larger than this app's limit of %(mb)s MB") % {"mb": f"{limit / 1e6:g}"}
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        if int(declared) > DRAIN_LIMIT:
            # Refused before a byte of it is read: a client would otherwise send gigabytes for nothing. The
            # connection closes, as the unread body cannot be told from the next request.
            return _problems(413, too_large, limit=limit, headers={"connection": "close"})
        try:
            async for _ in request.stream():
                pass  # a small one is read and dropped first, so the client sees the 413 and not a reset
        except ClientDisconnect:
            return Response(status_code=400)
        return _problems(413, too_large, limit=limit)
    try:
        upload = await receive_upload(request.stream(), request.headers.get("content-type", ""), root, kind=kind,
                                      limit=limit)
    except TooLarge:
        return _problems(413, too_large, limit=limit)
    except BadUpload as exc:
        return _problems(exc.status, str(exc))
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it; receive_upload removed what had arrived
    if not upload.stored and not upload.rejected:
        return _problems(422, i18n.gettext(i18n.N_("No files came with the upload: choose them again.")))
    if not upload.stored:
        return _problems(422, *(f"{r['name']}: {r['message']}" for r in upload.rejected), rejected=upload.rejected)
    return JSONResponse({"stored": upload.stored, "rejected": upload.rejected}, status_code=201)


def _file_response(path: Path, *, download: bool = False) -> Response:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    inline = media_type in INLINE_TYPES and not download
    headers = {"cache-control": "no-store",
               # a file is data, never a page of this app: no scripts, even if it is an HTML page
               "content-security-policy": "default-src 'none'; img-src 'self'; media-src 'self'; "
                                          "style-src 'unsafe-inline'"
               if media_type == "application/pdf" else "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"}
    return FileResponse(path, media_type=media_type if inline else "application/octet-stream", headers=headers,
                        filename=path.name, content_disposition_type="inline" if inline else "attachment")


async def get_file(request: Request) -> Response:
    return _file_response(cases.case_file(_root(request), request.path_params["path"]))


async def delete_file(request: Request) -> Response:
    root = _root(request)
    path = cases.case_file(root, request.path_params["path"])
    if cases.inside(root / PACKAGE_DIR, path) or path.resolve() == (root / cases.CASE_FILE).resolve():
        return _problems(403, i18n.gettext(i18n.N_("Only evidence files can be removed here.")))
    relative = path.relative_to(root).as_posix()
    await run_in_threadpool(path.unlink)
    await run_in_threadpool(cases.forget_file, root, relative)
    return Response(status_code=204)


async def thumbnail(request: Request) -> Response:
    root = _root(request)
    path = cases.case_file(root, request.path_params["path"])
    try:
        if path.suffix.lower() in cases.KIND_SUFFIXES["videos"]:
            poster = (await run_in_threadpool(previews.video_info, path, _cache(request)))["poster"]
            if poster is None:
                raise NotFound(request.path_params["path"])
            return FileResponse(poster, media_type="image/jpeg")
        return FileResponse(await run_in_threadpool(previews.photo_thumbnail, path, _cache(request)),
                            media_type="image/jpeg")
    except (EvidenceKitError, OSError, ValueError):  # not a picture, damaged, or a decompression bomb
        # By its name only: the decoder's words carry the local path and mean nothing to the buyer.
        return _problems(415, i18n.gettext("%(name)s: no preview, this file cannot be shown as a picture (it is "
                                           "damaged, not a picture, or far too large)") % {"name": path.name})


# --- builds and packages ------------------------------------------------------------------------------------

async def start_build(request: Request) -> Response:
    root = _root(request)
    job, started = request.app.state.jobs.start(root.name, root)
    if not started:
        return _problems(409, i18n.gettext(i18n.N_("A build of this case is already running: its progress is shown.")),
                         job=job.id)
    return JSONResponse({"job": job.id}, status_code=202, headers={"location": f"/api/jobs/{job.id}/events"})


async def upload_plan(request: Request) -> Response:
    """What Build would upload with the page's unsaved photo order, skips and video choice."""
    root = _root(request)
    facts = await _json_body(request)
    return JSONResponse(await run_in_threadpool(views.plan_with, root, facts), headers={"cache-control": "no-store"})


async def case_build(request: Request) -> Response:
    """The case's running build, if any (a reloaded page follows it)."""
    job = request.app.state.jobs.running(_root(request).name)
    return JSONResponse({"job": job.id if job else None}, headers={"cache-control": "no-store"})


def _job(request: Request) -> Any:
    job = request.app.state.jobs.get(request.path_params["job"])
    if job is None:
        raise NotFound(request.path_params["job"])
    return job


async def job_status(request: Request) -> Response:
    job = _job(request)
    return JSONResponse({"job": job.id, "case": job.case_id, "finished": job.finished, "events": len(job.events),
                         "result": job.result}, headers={"cache-control": "no-store"})


async def job_events(request: Request) -> Response:
    job = _job(request)
    return StreamingResponse(request.app.state.jobs.stream(job), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


async def verify_package(request: Request) -> Response:
    package = _root(request) / PACKAGE_DIR
    if not (package / "manifest.json").is_file():
        return _problems(404, i18n.gettext(i18n.N_("No package yet: press Build first.")))
    if not await run_in_threadpool(cases.package_readable, package.parent):
        return _problems(409, i18n.gettext(DAMAGED_PACKAGE))
    try:
        report = await run_in_threadpool(api.verify, package)
    except VerifyError:  # no manifest it can read: its own words name the local path and the schema
        return _problems(409, i18n.gettext(DAMAGED_PACKAGE))
    return JSONResponse(report.to_dict())


async def package_file(request: Request) -> Response:
    relative = request.path_params["path"]
    try:  # a package holds plain files only: no link is followed, not even one that stays inside
        path = checked_package_file(_root(request) / PACKAGE_DIR, relative)
    except (PackagePathError, OSError):
        raise NotFound(relative) from None
    return _file_response(path, download=request.query_params.get("download") == "1")


async def package_zip(request: Request) -> Response:
    root = _root(request)
    package = root / PACKAGE_DIR
    if not (package / "manifest.json").is_file():
        return _problems(404, i18n.gettext(i18n.N_("No package yet: press Build first.")))
    try:
        archive = await run_in_threadpool(write_zip, package, _cache(request) / "zips")
    except PackageCheckFailed as exc:  # never zipped as if fine (nor through a link): what the check found
        return _problems(409, exc.message, *(str(p) for p in exc.report.problems))
    return FileResponse(archive, media_type="application/zip", filename=f"{root.name}-evidence-package.zip",
                        background=BackgroundTask(archive.unlink, missing_ok=True),
                        headers={"cache-control": "no-store"})


def routes(static: Path) -> list[Any]:
    from .phone import phone_routes

    async def favicon(request: Request) -> Response:
        # Browsers ask for it on every page: without it each page logs a 404 in the console.
        return FileResponse(static / "favicon.ico", media_type="image/x-icon",
                            headers={"cache-control": "max-age=86400"})

    return [
        Route("/", index),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/cases/{case}", case_page),
        Route("/cases/{case}/fragment/files", files_fragment),
        Route("/cases/{case}/fragment/result", result_fragment),
        Route("/api/cases", list_cases, methods=["GET"]),
        Route("/api/cases", create_case, methods=["POST"]),
        Route("/api/cases/{case}", get_case, methods=["GET"]),
        Route("/api/cases/{case}", put_case, methods=["PUT"]),
        Route("/api/cases/{case}/files", list_files, methods=["GET"]),
        Route("/api/cases/{case}/files", upload_files, methods=["POST"]),
        Route("/api/cases/{case}/files/{path:path}", get_file, methods=["GET"]),
        Route("/api/cases/{case}/files/{path:path}", delete_file, methods=["DELETE"]),
        Route("/api/cases/{case}/thumb/{path:path}", thumbnail, methods=["GET"]),
        Route("/api/cases/{case}/build", start_build, methods=["POST"]),
        Route("/api/cases/{case}/build", case_build, methods=["GET"]),
        Route("/api/cases/{case}/plan", upload_plan, methods=["POST"]),
        Route("/api/cases/{case}/verify", verify_package, methods=["GET"]),
        Route("/api/cases/{case}/package.zip", package_zip, methods=["GET"]),
        Route("/api/cases/{case}/package/{path:path}", package_file, methods=["GET"]),
        Route("/api/jobs/{job}", job_status, methods=["GET"]),
        Route("/api/jobs/{job}/events", job_events, methods=["GET"]),
        *phone_routes(),  # the case page's phone link and the phone's own pages (phone.py)
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
