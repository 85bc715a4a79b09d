"""The web app against the CLI on the example case: time from Build to ``done`` vs ``evidence-kit build``.

    .venv/bin/python bench/serve.py [--rounds 3]

Each round builds a fresh copy of examples/broken-kettle (copied into a temporary folder; the checkout is
never written) twice: once with ``evidence-kit build COPY`` (a new process, as a user types it) and once
through a running ``evidence-kit serve``: POST /api/cases/ID/build, then the server-sent events until
``event: done``. The first app round is reported apart (the server imports the stage libraries on its
first build, as every CLI run does). Then a second Build of the unchanged case. Target: app/CLI <= 1.1.
Quote the ratio, not the absolute times: the machine is shared.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.test_web_api import WebServer  # noqa: E402

CLI = str(ROOT / ".venv" / "bin" / "evidence-kit")
EXAMPLE = ROOT / "examples" / "broken-kettle"


def fresh_copy(target: Path) -> Path:
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("evidence-package*", ".ek-tmp-*"))
    return target


def cli_build(case: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([CLI, "build", str(case)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"evidence-kit build failed ({done.returncode}): {done.stderr}")
    return seconds


def app_build(server: WebServer, case_id: str, expect: str) -> float:
    started = time.perf_counter()
    response = server.client.post(f"/api/cases/{case_id}/build")
    if response.status_code != 202:
        raise SystemExit(f"build request failed: {response.status_code} {response.text}")
    name, result = server.events(response.json()["job"])[-1]
    seconds = time.perf_counter() - started
    if name != "done" or result["status"] != expect:
        raise SystemExit(f"unexpected end of the build: {name} {result.get('status')} {result.get('message', '')}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ek-bench-serve-") as tmp:
        workspace = Path(tmp) / "workspace"
        workspace.mkdir()
        server = WebServer(workspace)
        try:
            first = app_build(server, fresh_copy(workspace / "kettle-first").name, "built")
            cli, app = [], []
            for i in range(args.rounds):  # interleaved, so a busy moment on the machine hits both
                cli.append(cli_build(fresh_copy(Path(tmp) / f"cli-{i}")))
                app.append(app_build(server, fresh_copy(workspace / f"kettle-{i}").name, "built"))
            unchanged = app_build(server, f"kettle-{args.rounds - 1}", "unchanged")
        finally:
            server.client.close()
            server.stop()
    cli_median, app_median = statistics.median(cli), statistics.median(app)
    print(f"example case, {args.rounds} rounds (median seconds)")
    print(f"  evidence-kit build            {cli_median:6.2f}   ({', '.join(f'{s:.2f}' for s in cli)})")
    print(f"  app: Build -> done            {app_median:6.2f}   ({', '.join(f'{s:.2f}' for s in app)})")
    print(f"  app: first build after start  {first:6.2f}")
    print(f"  app: Build of unchanged case  {unchanged:6.2f}")
    print(f"ratio app / CLI: {app_median / cli_median:.2f}x (target <= 1.1x); "
          f"first build after start: {first / cli_median:.2f}x")


if __name__ == "__main__":
    main()
