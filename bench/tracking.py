"""Benchmark: screenshot the same local tracking pages (10, then 30) with evidence-kit (one browser, several
pages loading at once) and with one ``chromium --headless --screenshot`` process per page, side by side in one
run. Pages are served from 127.0.0.1.

evidence-kit runs Chromium's headless shell when it is installed (Debian: chromium-headless-shell), as Playwright
does for headless pages; a row on the full Chromium shows what the engine gives and what the rest does. The peer
is the full Chromium's own ``--screenshot`` (the plain command a user would type); with the headless shell
installed, its ``--screenshot`` is a second peer, the "vs shell CLI" column.

    .venv/bin/python bench/tracking.py [--pages 10 30] [--rounds 1]

With each evidence-kit row comes the CPU time it used (this process, the bench's page server included, and
every process it started: the node driver, Chromium's browser, GPU and renderer processes, sampled from /proc)
and the floor that puts on its ratio: that CPU time spread perfectly over every core, over the peer's time.

evidence-kit does more per page than the plain CLI (full-page capture, stamp band, saved HTML, JSON record,
and with JPEGs also a photo-sized JPEG), so its rows are an upper bound on the browser-reuse gain.
"""
from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from evidence_kit.tools.chromium import Browser, find_chromium, launch_flags
from evidence_kit.media.tracking import Target, capture_targets, live_tabs, load_trackers

CITIES = ["Shenzhen", "Guangzhou", "Hong Kong", "Almaty", "Moscow", "Kazan", "Warsaw", "Vilnius", "Madrid", "Lyon"]


def write_pages(folder: Path, count: int) -> list[str]:
    names = []
    for i in range(count):
        rows = "".join(f"<tr><td>2026-11-{1 + j:02d} {8 + j % 10}:15</td><td>{CITIES[(i + j) % len(CITIES)]}</td>"
                       f"<td>{'Departed from' if j % 2 else 'Arrived at'} sorting center</td></tr>"
                       for j in range(6 + 3 * i))
        (folder / f"track-{i}.html").write_text(
            f"<!DOCTYPE html><html><head><title>Parcel {i}</title><style>body{{font-family:sans-serif;margin:24px}}"
            f"td{{padding:8px;border-bottom:1px solid #ddd}}</style></head><body><h1>Parcel LP0041234567{i:04d}</h1>"
            f"<table>{rows}</table></body></html>", encoding="utf-8")
        names.append(f"track-{i}.html")
    return names


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


class ChildCpu:
    """CPU seconds of every process this one started (and theirs), sampled from /proc while a run goes on:
    getrusage cannot see them, as Chromium's renderers are reaped by Chromium, not by us. The sampling thread
    counts its own CPU time (``sampler_seconds``) so that the bench can leave it out of evidence-kit's."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}
        self.sampler_seconds = 0.0
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "ChildCpu":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = os.getpid()
        while True:
            processes: dict[int, tuple[int, float]] = {}  # pid: (parent pid, CPU seconds so far)
            for name in os.listdir("/proc"):
                if name.isdigit():
                    try:
                        with open(f"/proc/{name}/stat", "rb") as stat:
                            fields = stat.read().rsplit(b")", 1)[1].split()
                    except OSError:  # the process ended meanwhile
                        continue
                    processes[int(name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / self._tick)
            for pid, (ancestor, cpu) in processes.items():
                while ancestor in processes and ancestor != me:  # parent pids end at init's 0
                    ancestor = processes[ancestor][0]
                if ancestor == me:
                    self.seconds[pid] = max(cpu, self.seconds.get(pid, 0.0))
            self.sampler_seconds = time.thread_time()
            if self._stop.wait(0.1):
                return

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def run_evidence_kit(urls: list[str], out: Path, jpeg: bool, chromium: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and all it started) of one capture of ``urls``, browser start
    and close included."""
    base = load_trackers()
    config = replace(base, capture=base.capture.model_copy(update={"idle_timeout": 2.0}))
    targets = [Target("page", f"page-{i}", url=url) for i, url in enumerate(urls)]
    own_cpu = time.process_time()
    with ChildCpu() as children:
        started = time.perf_counter()
        with Browser(chromium) as browser:
            result = capture_targets(targets, out, config=config, max_photo_bytes=2_000_000 if jpeg else None,
                                     browser=browser)
        elapsed = time.perf_counter() - started
    if result.failures or len(result.captures) != len(urls):
        sys.exit(f"evidence-kit failed: {result.failures}")
    return elapsed, time.process_time() - own_cpu - children.sampler_seconds + children.total


PEER = "chromium --headless --screenshot per page"
SHELL_PEER = "chromium-headless-shell --screenshot per page"


def run_cli(chromium: Path, urls: list[str], out: Path) -> tuple[float, float | None]:
    started = time.perf_counter()
    for i, url in enumerate(urls):
        with tempfile.TemporaryDirectory(prefix="ek-bench-profile-") as profile:
            png = out / f"page-{i}.png"
            subprocess.run([str(chromium), "--headless", *launch_flags(), f"--user-data-dir={profile}",
                            "--window-size=1280,900", "--hide-scrollbars", f"--screenshot={png}", url],
                           check=True, capture_output=True, timeout=120)
            if not png.is_file():
                sys.exit(f"chromium wrote no screenshot for {url}")
    return time.perf_counter() - started, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[10, 30], help="page counts, one table each")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each tool this many times, keep the best")
    args = parser.parse_args()
    ours, full = find_chromium(), find_chromium(headless_shell=False)
    if ours is None or full is None:
        sys.exit("no Chromium found: apt-get install chromium-headless-shell chromium")
    shell = ours if ours != full else None
    for engine in dict.fromkeys((ours, full)):
        version = subprocess.run([str(engine), "--version"], capture_output=True, text=True).stdout.strip()
        print(f"{engine} ({version})")
    print(f"evidence-kit runs {ours} and loads {live_tabs()} pages at once on {os.cpu_count()} cores")
    for count in args.pages:
        print()
        compare(ours, full, shell, count, args.rounds)


def compare(ours: Path, full: Path, shell: Path | None, count: int, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="ek-bench-tracking-"))
    try:
        site = work / "site"
        site.mkdir()
        httpd, root = serve(site)
        urls = [root + name for name in write_pages(site, count)]
        engine = "headless shell" if shell else "Chromium"
        runs = [(f"evidence-kit, PNG+stamp+HTML ({engine})", lambda out: run_evidence_kit(urls, out, False, ours)),
                (f"evidence-kit, + JPEG under 2 MB ({engine})", lambda out: run_evidence_kit(urls, out, True, ours))]
        if shell:
            runs.append(("evidence-kit, PNG+stamp+HTML (full Chromium)",
                         lambda out: run_evidence_kit(urls, out, False, full)))
        runs.append((PEER, lambda out: run_cli(full, urls, out)))
        if shell:
            runs.append((SHELL_PEER, lambda out: run_cli(shell, urls, out)))
        rows: dict[str, tuple[float, float | None]] = {}
        for _ in range(rounds):
            for label, run in runs:
                out = Path(tempfile.mkdtemp(dir=work))
                measured = run(out)
                rows[label] = min(measured, rows.get(label, measured), key=lambda row: row[0])
        httpd.shutdown()
        peer = rows[PEER][0]
        shell_peer = rows[SHELL_PEER][0] if shell else None
        cores = os.cpu_count() or 1
        print(f"{count} local pages")
        print(f"{'tool':<50} {'total s':>8} {'per page s':>10} {'vs CLI':>7} {'vs shell CLI':>12} {'CPU s':>7} "
              f"{'CPU floor vs CLI':>17}")
        for label, (seconds, cpu) in rows.items():
            versus_shell = f"{seconds / shell_peer:12.2f}" if shell_peer else f"{'':12}"
            floor = f"{cpu:7.2f} {cpu / cores / peer:17.2f}" if cpu is not None else ""
            print(f"{label:<50} {seconds:8.2f} {seconds / count:10.3f} {seconds / peer:7.2f} {versus_shell} {floor}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
