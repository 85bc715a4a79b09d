"""Command line: parses arguments, calls the library, prints results. No logic of its own.

Results go to stdout (``--json`` for machines); messages and progress go to stderr.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import threading
import traceback
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from . import __version__
from .errors import AddressError, EvidenceKitError, ExitCode, Terminated
from .fsutil import access_error, atomic_write_text
from .names import json_safe, shown_lines
from .model.layout import CASE_FILE, DEFAULT_PROFILE, SUBFOLDERS
from .model.options import BuildOptions
from .model.profile import MAX_DAYS, MAX_PHOTO_BYTES, MAX_VIDEO_BYTES
from .progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from . import api
    from .stages import BuildResult


def _echo(message: Any = "", err: bool = False) -> None:
    """Every line the CLI prints: control and bidi characters (a U+202E in a file name, in a message quoting
    it) are shown as escapes, never acted on by the terminal (``names.shown_lines``)."""
    click.echo(shown_lines(str(message)), err=err)


def _echo_json(data: Any) -> None:
    click.echo(json_safe(json.dumps(data, indent=2, ensure_ascii=False, default=str)))


def _size(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB" if n >= 100_000 else f"{n / 1000:.1f} kB"


def _progress() -> Progress | None:
    """A rich progress bar per stage on stderr (with the file being worked on), only on a terminal."""
    if not sys.stderr.isatty():
        return None
    from .console import TerminalProgress

    return TerminalProgress()


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result on stdout.")(f)


def profile_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--profile", metavar="NAME|FILE",
                        help=f"Platform profile with the upload limits (default: case.toml's, else {DEFAULT_PROFILE}).")(f)


def replace_run_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--force", is_flag=True,
                        help="--out holds an earlier run (its manifest.json): replace that run's files.")(f)


def keep_metadata_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--keep-metadata", is_flag=True,
                        help="Keep GPS location, camera serials and other EXIF in the photos (off by default).")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evidence-kit")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Turn a buyer's evidence about a failed order into an upload-ready dispute package.

    \b
    Start a case:      evidence-kit init my-case
    Build the package: evidence-kit build my-case
    Check a package:   evidence-kit verify my-case/evidence-package
    """
    ctx.obj = {"verbose": verbose}


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing case.toml.")
def init(directory: Path, force: bool) -> None:
    """Start a case folder: a commented case.toml and the media subfolders.

    \b
    Example:
      evidence-kit init ~/disputes/kettle
    """
    target = directory / CASE_FILE
    if target.exists() and not force:
        raise click.UsageError(f"{target} already exists (use --force to overwrite it)")
    template = (resources.files("evidence_kit.templates") / "case.toml").read_text(encoding="utf-8")
    atomic_write_text(target, template)
    for folder in SUBFOLDERS.values():
        (directory / folder).mkdir(parents=True, exist_ok=True)
    _echo(f"Wrote {target}. Fill it in, put your files in {', '.join(f + '/' for f in SUBFOLDERS.values())}"
               f" and run: evidence-kit build {directory}")


def _print_build(result: BuildResult) -> None:
    manifest = result.manifest
    deadlines = manifest.sections.get("deadlines")
    if deadlines and deadlines.get("stage"):
        _echo(deadlines["stage"]["headline"])  # where the case stands first: it decides the texts
    _echo(f"Package: {result.package}")
    uploads = [r for r in manifest.outputs if r.upload]
    if uploads:
        _echo("Upload these:")
        for record in uploads:
            note = f"  q{record.transform['quality']}" if record.transform.get("quality") else (
                "  (pixels untouched)" if record.transform.get("method") == "lossless" else "")
            _echo(f"  {record.path}  {_size(record.bytes)}{note}")
    for item in manifest.sections.get("photo_selection", {}).get("left_out", []):
        _echo(f"  not uploaded: {item['path']}: {item['reason']}")
    if deadlines:
        _echo(f"Deadlines: {deadlines['advice']}" + (f" {deadlines['hint']}" if deadlines.get("hint") else ""))
        _echo(f"{deadlines['negotiation_note']} {deadlines.get('negotiation_hint', '')}".rstrip())
    for problem in manifest.warnings:
        hint = f" {problem.hint}" if problem.hint else ""
        _echo(f"warning: {problem.path + ': ' if problem.path else ''}{problem.message}{hint}", err=True)
    for problem in manifest.errors:
        _echo(f"error: {problem.path + ': ' if problem.path else ''}{problem.message}", err=True)


def _plausible_day(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback: --today within the years case.toml's dates may have (9999-12-31 overflowed every deadline)."""
    from .model.case import FIRST_YEAR, LAST_YEAR

    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise click.BadParameter(f"{value:%Y-%m-%d} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


def today_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                        callback=_plausible_day, help="Judge the deadlines as on this day (default: today).")(f)


def cluster_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--cluster", metavar="ADDRESS", envvar="DASK_SCHEDULER_ADDRESS",
                        help="Build on a dask cluster (tcp://HOST:8786; default: $DASK_SCHEDULER_ADDRESS) "
                             "instead of local processes. Needs: pip install 'evidence-kit[cluster]'.")(f)


def jobs_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--jobs", type=click.IntRange(min=1),
                        help="How many to build at once (default: the number of CPU cores).")(f)


@cli.command()
@click.argument("cases", nargs=-1, metavar="CASE...", type=click.Path(path_type=Path))
@click.option("--all", "all_root", metavar="ROOT", type=click.Path(file_okay=False, path_type=Path),
              help="Build every case folder (a folder with a case.toml) under ROOT.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the package (default: CASE/evidence-package). With several cases: a folder "
                   "that gets one package per case, named after the case folder.")
@jobs_option
@click.option("--force", is_flag=True, help="Rebuild even when the inputs and settings did not change.")
@profile_option
@keep_metadata_option
@click.option("--grid", is_flag=True, help="Combine the photos that do not fit the form's slots into one grid image.")
@click.option("--look-up-tracking", is_flag=True,
              help="Also capture public tracking sites for [[tracking]] numbers that have no url (goes online).")
@today_option
@cluster_option
@json_option
def build(cases: tuple[Path, ...], all_root: Path | None, out: Path | None, jobs: int | None, force: bool,
          profile: str | None, keep_metadata: bool, grid: bool, look_up_tracking: bool, today: Any,
          cluster: str | None, as_json: bool) -> None:
    """Build the dispute package for one or many case folders.

    A case whose inputs (by content) and settings did not change since its package was built is
    skipped and reported as unchanged; --force rebuilds it. Several cases are built in parallel, one
    failing case never stops the others, and the exit code is 1 when any of them failed.

    \b
    Examples:
      evidence-kit build examples/broken-kettle --out /tmp/kettle-package
      evidence-kit build --all ~/disputes --jobs 2
      evidence-kit build --all /shared/disputes --cluster tcp://10.0.0.5:8786
    """
    from . import api  # on use: --help and init stay free of pydantic and the models
    from .runners.batch import collect_cases, plan_jobs, sweep_video_caches

    if not cases and not all_root:
        raise click.UsageError("give at least one CASE folder, or --all ROOT")
    options = BuildOptions(keep_metadata=keep_metadata, grid=grid, look_up_tracking=look_up_tracking,
                           today=today.date() if today else None)
    planned = plan_jobs(collect_cases(cases, all_root), out=out, profile=profile, options=options, force=force,
                        out_per_case=bool(all_root))
    if len(planned) > 1 or all_root or cluster:
        _build_many(planned, jobs, as_json, cluster)
    sweep_video_caches(planned)  # what a cluster run that lost its scheduler left in the case
    job = planned[0]
    with _progress() or contextlib.nullcontext() as progress:
        outcome = api.build(job.case, job.out, profile=job.profile, options=job.options, progress=progress,
                            reuse_unchanged=not force)
    if as_json:
        _echo_json(outcome.to_dict())
    else:
        if outcome.status == api.UNCHANGED:
            _echo("Unchanged since the last build (same inputs and settings): kept the package. "
                       "Use --force to rebuild.", err=True)
        _print_build(outcome.result)
    sys.exit(int(outcome.exit_code))


def _build_many(planned: list[Any], jobs: int | None, as_json: bool, cluster: str | None = None) -> None:
    """Many cases: one progress line on stderr (on a terminal), then a summary table or the --json report."""
    from .runners.batch import batch_exit_code, run_batch, summary_table

    if cluster:
        from .runners.cluster import build_on_cluster

        running = build_on_cluster(planned, cluster)
    else:
        running = run_batch(planned, workers=jobs)
    outcomes = []
    with _progress() or contextlib.nullcontext() as progress:
        for outcome in running:
            outcomes.append(outcome)
            if progress:
                progress(ProgressEvent("cases", len(outcomes), len(planned),
                                       f"{Path(outcome.case).name} {outcome.status}"))
    code = batch_exit_code(outcomes)
    if as_json:
        _echo_json({"cases": [o.to_dict() for o in outcomes], "exit_code": int(code)})
    else:
        for line in summary_table(outcomes):
            _echo(line)
    sys.exit(int(code))


@cli.command()
@click.argument("inbox", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "outbox", type=click.Path(file_okay=False, path_type=Path),
              help="Where packages appear, as OUTBOX/<name>/ (default: 'outbox' beside INBOX).")
@click.option("--archive", type=click.Path(file_okay=False, path_type=Path),
              help="Where originals go after success (default: 'archive' beside INBOX).")
@click.option("--failed", type=click.Path(file_okay=False, path_type=Path),
              help="Where originals go after a failure, with an error.txt (default: 'failed' beside INBOX).")
@click.option("--settle", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds a drop must stay unchanged (sizes and times) before it is processed.")
@click.option("--poll", is_flag=True, help="Poll for changes instead of native events (network shares).")
@jobs_option
@cluster_option
@profile_option
@click.pass_context
def watch(ctx: click.Context, inbox: Path, outbox: Path | None, archive: Path | None, failed: Path | None,
          settle: float, poll: bool, jobs: int | None, cluster: str | None, profile: str | None) -> None:
    """Watch a folder: each case folder dropped in becomes a package; a loose photo or video is fitted.

    Runs until Ctrl-C or SIGTERM, then finishes the jobs in flight. Every event is logged on stderr
    with a UTC timestamp (-v adds the raw file-system events).

    \b
    Example:
      evidence-kit watch ~/Evidence/inbox --out ~/Evidence/outbox
    """
    from .runners.batch import default_workers
    from .runners.watch import WatchFolders, Watcher, log_to_stderr

    folders = WatchFolders.beside(inbox, outbox, archive, failed)
    log_to_stderr(verbose=ctx.obj.get("verbose", False))
    client, executor = None, None
    if cluster:
        from .runners.cluster import cluster_executor

        client, executor = cluster_executor(cluster)
    try:
        Watcher(folders, settle=settle, poll=poll, workers=jobs or default_workers(), profile=profile,
                executor=executor).run_until_signal()
    finally:
        if client is not None:
            client.close()


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--max-bytes", type=click.IntRange(min=1000, max=MAX_PHOTO_BYTES),
              help="Byte limit per photo (default: the profile's).")
@profile_option
@keep_metadata_option
@replace_run_option
@json_option
def photos(files: tuple[Path, ...], out: Path, max_bytes: int | None, profile: str | None,
           keep_metadata: bool, force: bool, as_json: bool) -> None:
    """Fit photos under the upload limit, one JPEG per input (no selection).

    \b
    Example:
      evidence-kit photos IMG_0042.heic IMG_0043.jpg --out ready/
    """
    from . import api
    with _progress() or contextlib.nullcontext() as progress:
        manifest = api.fit_photos(files, out, profile=profile, max_bytes=max_bytes, keep_metadata=keep_metadata,
                                  progress=progress, force=force)
    if not as_json:
        for problem in manifest.errors:
            _echo(f"error: {problem.path}: {problem.message}", err=True)
        for record in manifest.outputs:
            t = record.transform
            how = "pixels untouched" if t.get("method") == "lossless" else f"quality {t.get('quality')}"
            scale = f", scaled to {t['scale']:.0%}" if t.get("scale", 1) < 1 else ""
            _echo(f"{record.source} -> {out / record.path}  {_size(record.bytes)} ({how}{scale})")
    if as_json:
        _echo_json(manifest.to_dict())
    sys.exit(int(ExitCode.SOME_INPUTS_FAILED if manifest.errors else ExitCode.OK))


@cli.command()
@click.argument("targets", nargs=-1, required=True, metavar="NUMBER|URL|FILE...")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--carrier", default="", help="Carrier of the tracking numbers (cainiao, usps, ...): its own site first.")
@click.option("--wait-for", metavar="SELECTOR|TEXT", help="Wait until this CSS selector or text shows before capturing.")
@click.option("--timeout", type=click.FloatRange(min=0.5), help="Seconds to wait for each page (default: 30).")
@click.option("--trackers", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A trackers.toml whose sites and settings replace the built-in ones by name.")
@profile_option
@json_option
def track(targets: tuple[str, ...], out: Path, carrier: str, wait_for: str | None, timeout: float | None,
          trackers: Path | None, profile: str | None, as_json: bool) -> None:
    """Capture tracking pages as stamped screenshots (PNG + HTML + JSON record + JPEG under the photo limit).

    \b
    A tracking NUMBER opens the carrier's site (with --carrier) and the sites listed in
    trackers.toml (17TRACK, Parcels): this goes online. A URL is captured as given (http/https only).
    A saved .html page is shown offline; a tracking.csv/.json of events becomes a timeline image.
    \b
    Examples:
      evidence-kit track LP00412345678901 --carrier cainiao --out shots/
      evidence-kit track https://parcelsapp.com/en/tracking/LP00412345678901 --wait-for "Delivered" --out shots/
      evidence-kit track my-case/tracking/tracking.csv --out shots/
    """
    from . import api
    with _progress() or contextlib.nullcontext() as progress:
        result, problems = api.capture_tracking(targets, out, carrier=carrier, wait_for=wait_for, timeout=timeout,
                                                trackers=trackers, profile=profile, progress=progress)
    errors = [{"target": word, "kind": "argument", "message": why} for word, why in problems]
    data = result.to_dict() if result else {"out": str(out), "captures": [], "errors": []}
    data["errors"] = errors + data["errors"]
    if as_json:
        _echo_json(data)
    else:
        for capture in data["captures"]:
            parts = f" ({len(capture['png'])} parts)" if len(capture["png"]) > 1 else ""
            _echo(f"{capture['target']} -> {out / capture['png'][0]}{parts}")
            for warning in capture["warnings"]:
                _echo(f"warning: {capture['target']}: {warning}", err=True)
        for error in data["errors"]:
            _echo(f"error: {error['target']}: {error['message']}", err=True)
    sys.exit(int(ExitCode.SOME_INPUTS_FAILED if data["errors"] else ExitCode.OK))


def _seconds(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback: ``42``, ``0:42`` or ``00:00:42.5`` -> seconds (a tuple for repeatable options)."""
    from .model.case import parse_timestamp

    try:
        if isinstance(value, tuple):
            return tuple(parse_timestamp(v) for v in value)
        return None if value is None else parse_timestamp(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--start", callback=_seconds, metavar="TIME", help="Keep from here: 42, 0:42 or 00:00:42.5.")
@click.option("--end", callback=_seconds, metavar="TIME", help="Keep up to here (included).")
@click.option("--still", "stills", multiple=True, callback=_seconds, metavar="TIME",
              help="Also save the frame at TIME as a photo (repeatable).")
@click.option("--max-bytes", type=click.IntRange(min=100_000, max=MAX_VIDEO_BYTES),
              help="Byte limit for the video (default: the profile's).")
@profile_option
@replace_run_option
@json_option
def video(file: Path, out: Path, start: float | None, end: float | None, stills: tuple[float, ...],
          max_bytes: int | None, profile: str | None, force: bool, as_json: bool) -> None:
    """Check a video, trim it and fit it under the upload limit; save a contact sheet and stills.

    \b
    Example:
      evidence-kit video IMG_1234.MOV --out ready/ --start 0:05 --end 2:40 --still 1:12
    """
    from . import api
    from .model.profile import load_profile
    from .media.video import format_time

    chosen = load_profile(profile or DEFAULT_PROFILE)
    if max_bytes:
        chosen = chosen.with_overrides({"max_video_bytes": max_bytes}, "--max-bytes")
    with _progress() or contextlib.nullcontext() as progress:
        report, manifest = api.fit_video(file, out, profile=chosen, start=start, end=end, stills=stills,
                                         progress=progress, force=force)
    if as_json:
        _echo_json(manifest.to_dict())
    else:
        for record in manifest.outputs:
            _echo(f"{out / record.path}  {_size(record.bytes)}  ({record.role})")
        done = report.prepared
        how = "stream copy, not re-encoded" if done.method == "stream_copy" else (
            f"re-encoded to H.264/AAC, {report.output_probe.display_size[0]}x{report.output_probe.display_size[1]}")
        _echo(f"Kept {format_time(done.span[0])}-{format_time(done.span[1])} ({how})")
        for finding in report.findings:
            _echo(f"{finding.severity}: {finding.message}", err=True)
        for problem in manifest.errors:
            _echo(f"error: {problem.message}", err=True)
    failed = manifest.errors or any(f.severity == "error" for f in report.findings)
    sys.exit(int(ExitCode.SOME_INPUTS_FAILED if failed else ExitCode.OK))


@cli.command()
@click.argument("case", type=click.Path(path_type=Path))
@today_option
@click.option("--negotiation-days", type=click.IntRange(min=1, max=MAX_DAYS), metavar="N",
              help="Days of negotiation before escalation (guides say 15; some buyers report 3-5; default: the profile's).")
@profile_option
@json_option
def deadlines(case: Path, today: Any, negotiation_days: int | None, profile: str | None, as_json: bool) -> None:
    """Dispute deadlines from the order dates, and what you can do today.

    \b
    Example:
      evidence-kit deadlines my-case --today 2026-12-01
    """
    from . import api
    from datetime import date

    from .dispute.complaint import stage_of
    from .dispute.deadlines import compute_deadlines, format_report

    loaded = api.load_case(case, profile=profile, today=today.date() if today else None)
    day = today.date() if today else date.today()
    report = compute_deadlines(loaded, day, negotiation_days=negotiation_days)
    report.stage = stage_of(loaded, day)
    if as_json:
        _echo_json(report.to_dict())
    else:
        _echo(format_report(report))


@cli.command()
@click.argument("case", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["seller", "dispute", "appeal", "report"]),
              help="Print only this text: the message to the seller, the dispute description, the appeal or the "
                   "report against the seller (written only when the facts show a Trade Rules violation). A "
                   "text for another stage is written too, with a warning.")
@today_option
@profile_option
@json_option
def complaint(case: Path, kind: str | None, today: Any, profile: str | None, as_json: bool) -> None:
    """The English texts the case's stage needs, within the profile's character limit (counted as the form
    counts: UTF-16 units, line ends as two). The stage and the deadline that binds are printed first.

    Evidence is cited by exhibit letter and file name once the package is built (evidence-kit build).

    \b
    Example:
      evidence-kit complaint my-case --kind dispute
    """
    from . import api
    from datetime import date

    from .dispute.checklist import check_evidence
    from .dispute.complaint import compose_texts, package_exhibits
    from .dispute.deadlines import compute_deadlines
    from .model.manifest import with_hint

    day = today.date() if today else date.today()
    loaded = api.load_case(case, profile=profile, today=today.date() if today else None)
    lettered = package_exhibits(loaded)
    texts, warnings, stage = compose_texts(loaded, (kind,) if kind else None, lettered=lettered, today=day)
    report = compute_deadlines(loaded, day)
    missing = [g.message + (f" ({g.hint})" if g.hint else "") for g in check_evidence(loaded).gaps if g.required]
    if as_json:
        _echo_json({"stage": stage.to_dict(), "deadlines": {"status": report.status, "advice": report.advice},
                    "texts": [t.to_dict() for t in texts], "warnings": [with_hint(w) for w in warnings], "missing_evidence": missing,
                    "exhibits": lettered is not None})
        return
    # Where the case stands comes first: it decides which texts are written.
    _echo(stage.headline, err=bool(kind))
    _echo(f"Deadlines: {report.advice}" + (f" {report.hint}" if report.hint else ""), err=bool(kind))
    if not kind:
        _echo("")
    if lettered is None:
        _echo("note: no package built yet, so the evidence is named by kind; after 'evidence-kit build' "
                   "the texts cite each file by exhibit letter and name.", err=True)
    for message in warnings:
        _echo(f"warning: {with_hint(message)}", err=True)
    for message in missing:
        _echo(f"missing evidence: {message}", err=True)
    if not texts and not kind:
        _echo("No texts for this stage.")
    for text in texts:
        if kind:
            _echo(f"{text.kind}: {text.chars}/{text.limit} characters", err=True)
            _echo(text.text)
        else:
            _echo(f"== {text.kind} ({text.chars}/{text.limit} characters) ==\n{text.text}\n")


@cli.command()
@click.argument("case", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the PDF (default: CASE-summary.pdf beside the case folder).")
@profile_option
def summary(case: Path, out: Path | None, profile: str | None) -> None:
    """Build the case summary PDF alone (the other stages run in a temporary package).

    \b
    Example:
      evidence-kit summary examples/broken-kettle --out kettle-summary.pdf
    """
    from . import api
    with _progress() or contextlib.nullcontext() as progress:
        result = api.build_summary(case, out, profile=profile, progress=progress)
    for problem in result.manifest.errors:
        _echo(f"error: {problem.path + ': ' if problem.path else ''}{problem.message}", err=True)
    _echo(result.package)
    sys.exit(int(result.exit_code))


@cli.command()
@click.argument("package", type=click.Path(file_okay=False, path_type=Path))
@json_option
def verify(package: Path, as_json: bool) -> None:
    """Re-check a package, trusting nothing in it (docs/package.md: "What verify proves").

    Every file against its hash in the manifest, no file that the manifest does not list, every limit
    on what upload/ holds, and manifest.json against its own hash and the one the summary PDF prints.
    Exit code 6 for any problem; --json gives each problem's kind, path and message.

    \b
    Example:
      evidence-kit verify my-case/evidence-package
    """
    from . import api
    report = api.verify(package)
    if as_json:
        _echo_json(report.to_dict())
    elif report.ok:
        _echo(f"OK: {report.checked} files match the manifest, nothing unlisted is in the package, the "
                   "manifest is unedited and upload/ is within the limits.")
    else:
        for problem in report.problems:
            _echo(f"FAIL: {problem}")
    sys.exit(int(ExitCode.OK if report.ok else ExitCode.VERIFY_FAILED))


@cli.command()
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path.home() / "evidence-kit",
              show_default="~/evidence-kit", help="The folder that holds the cases (one case folder each).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port; the default falls back to a free one if taken).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but 127.0.0.1 lets other machines reach your files (warned).")
@click.option("--no-browser", is_flag=True, help="Do not open the web browser.")
@jobs_option
@click.option("--max-upload-mb", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Largest upload accepted in one request, in MB (10^6 bytes).")
@click.option("--phone", is_flag=True,
              help="Also listen on this computer's private network address, so a phone on the same Wi-Fi can add "
                   "files to a case through a link (QR code) from its page; nothing else is served there.")
@click.option("--phone-address", metavar="ADDRESS",
              help="With --phone: the private network address to use (default: the one this computer's network "
                   "traffic leaves from).")
def serve(workspace: Path, port: int, host: str, no_browser: bool, jobs: int | None, max_upload_mb: int,
          phone: bool, phone_address: str | None) -> None:
    """Start the web app: fill in the order, drop the files, build and download the package.

    Prints the address with its access token (http://127.0.0.1:PORT/?token=...) and opens it.

    \b
    Example:
      evidence-kit serve --workspace ~/disputes
    """
    from .runners.batch import default_workers
    from .runners.web import WebSettings, serve as run_server
    from .runners.web.phone import lan_address, private_address

    phone_host = None
    if phone:
        phone_host = phone_address or lan_address()
        if phone_host is None:
            raise AddressError("--phone: this computer has no private network address (is it on Wi-Fi?); "
                               "name one with --phone-address")
        if not private_address(phone_host):
            raise AddressError(f"--phone-address {phone_host}: not a private network address (such as "
                               "192.168.x.x or 10.x.x.x); a public one would let anyone on the internet try")

    try:
        run_server(WebSettings(workspace=workspace.expanduser().resolve(), host=host, port=port,
                               workers=jobs or default_workers(), max_upload_bytes=max_upload_mb * 1_000_000,
                               open_browser=not no_browser, phone_host=phone_host))
    except OSError as exc:
        if exc.filename is None and (problem := _address_problem(exc.errno, host, port)):
            raise AddressError(problem) from None
        raise


def _address_problem(code: int | None, host: str, port: int) -> str | None:
    """What a failed bind means, in words, with the option that fixes it (None: not a bind problem)."""
    if code == errno.EADDRINUSE:
        return (f"port {port} is already in use: another program (or another evidence-kit serve) listens on it; "
                "choose another with --port (0: any free port)")
    if code == errno.EACCES:
        why = "ports below 1024 are for the system" if 0 < port < 1024 else "the system does not allow it"
        return f"cannot listen on port {port} ({why}); choose another with --port"
    if code == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this computer; choose another with --host"
    return None


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns exceptions into the documented exit codes."""
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:]) or bool(
        os.environ.get("EVIDENCE_KIT_DEBUG"))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        cli.main(args=argv, prog_name="evidence-kit", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.exceptions.Abort as exc:  # click turns KeyboardInterrupt (so Terminated too) into Abort
        if isinstance(exc.__cause__, Terminated):
            _echo("Stopped (SIGTERM); nothing half-written was left.", err=True)
            return int(ExitCode.TERMINATED)
        _echo("Interrupted.", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.BAD_ARGS)
    except EvidenceKitError as exc:  # the buyer reads the message; the exit code tells scripts which kind it was
        _echo(f"error: {exc}", err=True)
        if verbose and exc.detail:
            _echo(f"  ({exc.detail})", err=True)
        return int(exc.exit_code)
    except Terminated:
        _echo("Stopped (SIGTERM); nothing half-written was left.", err=True)
        return int(ExitCode.TERMINATED)
    except KeyboardInterrupt:
        _echo("Interrupted.", err=True)
        return int(ExitCode.INTERRUPTED)
    except OSError as exc:  # the disk or the system said no (read-only, full, vanished): not a bug, exit 7
        named = isinstance(exc.filename, (str, bytes, os.PathLike))  # os.fdopen names the descriptor, an int
        error = access_error(exc, Path(os.fsdecode(exc.filename)) if named and exc.filename else Path.cwd())
        _echo(f"error: {error}", err=True)
        return int(error.exit_code)
    except Exception:  # a bug: say so plainly, show the traceback only when asked
        if verbose:
            traceback.print_exc()
        else:
            _echo("Internal error: this is a bug in evidence-kit. Run again with -v and report the output.",
                       err=True)
        return int(ExitCode.INTERNAL)
    return int(ExitCode.OK)
