"""Start-up of the light commands next to `python -c "import torch"` measured in the same run (medians of 5).

`segviewer --help`, an argparse error, `qa-set` and `qa-report` without a dataset must not pay for torch, scipy or
Qt: their time should be a small fraction of torch's import alone.
usage: python benchmarks/bench_startup.py
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402


def seconds(args: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="segviewer_startup_"))
    session = tmp / "s.sqlite"
    cases = {
        'python -c "import torch"': [py, "-c", "import torch"],
        "segviewer --help": [py, "-m", "segviewer", "--help"],
        "segviewer export --help": [py, "-m", "segviewer", "export", "--help"],
        "segviewer export --beta -1 (usage error)": [py, "-m", "segviewer", "export", "--beta", "-1"],
        "segviewer qa-set": [py, "-m", "segviewer", "qa-set", "--session", str(session), "--image", "a",
                             "--status", "accepted"],
        "segviewer qa-report (no dataset)": [py, "-m", "segviewer", "qa-report", "--session", str(session), "--out",
                                             str(tmp / "r.csv")],
        'python -c "import segviewer"': [py, "-c", "import segviewer"],
    }
    print(f"machine: {machine()}")
    torch_s = None
    for name, args in cases.items():
        s = seconds(args)
        torch_s = torch_s or s
        print(f"{name:<45} {s:6.3f} s   ratio to import torch {s / torch_s:5.2f}")


if __name__ == "__main__":
    main()
