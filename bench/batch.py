"""Many cases, side by side in one run: `evidence-kit build --all` vs one `evidence-kit build` per case.

    .venv/bin/python bench/batch.py [--cases 6] [--photos 2]

The peers are what a user would otherwise type: a shell loop (one process per case, one after the other)
and `xargs -P N` (one process per case, N at a time, N = the cores). Then `build --all --jobs N` on fresh
copies, a re-run with nothing changed (every case skipped by its fingerprint) and the same re-run with
`--force`. Cases are generated: noisy photos (re-encoded by the photo stage) and the test case.toml,
notes included, so the texts stage loads its language detector as a real build does. Each column gets its
own fresh copy of the cases. Quote the ratios, not the absolute times: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from evidence_kit.runners.batch import default_workers  # noqa: E402
from tests.conftest import CASE_TOML, noisy_photo  # noqa: E402

CLI = str(ROOT / ".venv" / "bin" / "evidence-kit")


def make_cases(root: Path, count: int, photos: int) -> list[Path]:
    cases = []
    for i in range(count):
        case = root / f"case-{i:02d}"
        (case / "photos").mkdir(parents=True)
        (case / "case.toml").write_text(textwrap.dedent(CASE_TOML), encoding="utf-8")
        for j in range(photos):
            noisy_photo(1600, 1200, seed=i * 10 + j).save(case / "photos" / f"IMG_{j}.png")
        cases.append(case)
    return cases


def timed(command: list[str] | str, **kwargs) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {command}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--photos", type=int, default=2)
    args = parser.parse_args()
    jobs = default_workers()
    with tempfile.TemporaryDirectory(prefix="ek-bench-batch-") as tmp:
        template = Path(tmp) / "template"
        make_cases(template, args.cases, args.photos)

        def fresh(name: str) -> Path:
            target = Path(tmp) / name
            shutil.copytree(template, target)
            return target

        loop_root = fresh("loop")
        loop = timed(f'for c in "{loop_root}"/*/; do "{CLI}" build "$c" || exit 1; done', shell=True)
        xargs_root = fresh("xargs")
        listing = "\n".join(str(p) for p in sorted(xargs_root.iterdir()))
        xargs = timed(["xargs", "-P", str(jobs), "-I{}", CLI, "build", "{}"], input=listing)
        batch_root = fresh("batch")
        batch = timed([CLI, "build", "--all", str(batch_root), "--jobs", str(jobs)])
        rerun = timed([CLI, "build", "--all", str(batch_root), "--jobs", str(jobs)])
        forced = timed([CLI, "build", "--all", str(batch_root), "--jobs", str(jobs), "--force"])

    print(f"{args.cases} cases x {args.photos} photos (1600x1200 PNG), {jobs} cores, {os.uname().machine}")
    rows = [("shell loop, one build per case", loop), (f"xargs -P {jobs}, one build per case", xargs),
            (f"build --all --jobs {jobs}", batch), ("  re-run, nothing changed", rerun),
            ("  re-run with --force", forced)]
    print(f"{'how':<36}{'seconds':>9}{'vs loop':>9}{'vs xargs':>10}")
    for label, seconds in rows:
        print(f"{label:<36}{seconds:>9.1f}{loop / seconds:>8.2f}x{xargs / seconds:>9.2f}x")


if __name__ == "__main__":
    main()
