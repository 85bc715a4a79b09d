"""Start-up, side by side: `evidence-kit --help` and one `evidence-kit photos` per photo against
`jpegoptim --version`, one `jpegoptim --size` per photo and `python -c pass`, in one run.

    .venv/bin/python bench/startup.py [--rounds 5]

Reports the median wall time of each command and its ratio to the peer. The one-photo runs use the bench
photo set of bench/photos.py (generated photos, plus ../shared/media when present). Quote the ratios.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.photos import make_inputs  # noqa: E402
from tests.conftest import SHARED_MEDIA  # noqa: E402

CLI = str(Path(sys.executable).parent / "evidence-kit")


def median_seconds(command: list[str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = [("python -c pass", median_seconds([sys.executable, "-c", "pass"], args.rounds), None),
            ("jpegoptim --version", median_seconds(["jpegoptim", "--version"], args.rounds), None)]
    rows.append(("evidence-kit --help", median_seconds([CLI, "--help"], args.rounds), rows[1][1]))
    print(f"{'command':<34}{'median s':>10}{'ratio':>10}")
    for name, seconds, peer in rows:
        print(f"{name:<34}{seconds:>10.3f}{(f'{seconds / peer:.2f}x' if peer else ''):>10}")
    with tempfile.TemporaryDirectory() as work:
        inputs = make_inputs(Path(work), large=False, photos=SHARED_MEDIA)
        ours = peer = 0.0
        for photo in inputs:
            out = Path(work) / "out"
            mine = median_seconds([CLI, "photos", str(photo), "--out", str(out / photo.stem), "--force"], args.rounds)
            copy = Path(work) / f"copy-{photo.name}"
            theirs = 0.0
            for _ in range(args.rounds):  # jpegoptim works in place: a fresh copy each round
                copy.write_bytes(photo.read_bytes())
                started = time.perf_counter()
                subprocess.run(["jpegoptim", "-q", "--size=1950k", "--strip-all", str(copy)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                theirs += time.perf_counter() - started
            theirs /= args.rounds
            ours, peer = ours + mine, peer + theirs
            print(f"{'photos ' + photo.name:<34}{mine:>10.3f}{mine / theirs:>9.2f}x  (jpegoptim {theirs:.3f} s)")
        print(f"{'one-photo runs, total':<34}{ours:>10.3f}{ours / peer:>9.2f}x  (jpegoptim {peer:.3f} s)")


if __name__ == "__main__":
    main()
