"""How long the command line takes to answer: help, version and argument errors need no torch.

Each command runs in a fresh process (``python -m pyro_vae ...``, what the ``pyro-vae`` script
runs), ``--repeats`` times; the median wall-clock seconds are reported. Help (the program's and
a command's), ``--version``, a mistyped command, an unknown option and an option value the text
alone shows wrong, or a run directory that is not there, are answered before torch is imported
(:mod:`pyro_vae.cli.launch`, with the registries' committed catalogue); the last row is the
whole Python API, which a command's real work imports.

Usage:
    python bench/cli_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

#: what is timed: a name, and the arguments after ``python``
CASES = {
    "pyro-vae --version": ["-m", "pyro_vae", "--version"],
    "pyro-vae --help": ["-m", "pyro_vae", "--help"],
    "pyro-vae trian (a mistyped command)": ["-m", "pyro_vae", "trian"],
    "import pyro_vae": ["-c", "import pyro_vae"],
    "pyro-vae train --help": ["-m", "pyro_vae", "train", "--help"],
    "pyro-vae train --latent 3 (an unknown option)": ["-m", "pyro_vae", "train", "--latent", "3"],
    "pyro-vae train --prior nope (an unknown part)": ["-m", "pyro_vae", "train", "--prior", "nope"],
    "pyro-vae evaluate RUN --num-samples 0 (a bad value)": [
        *("-m", "pyro_vae", "evaluate", "runs/x", "--num-samples", "0"),
    ],
    "pyro-vae evaluate runs/no-such-run (a missing run directory)": [
        *("-m", "pyro_vae", "evaluate", "runs/no-such-run"),
    ],
    "import pyro_vae; pyro_vae.Config (the whole API)": ["-c", "import pyro_vae; pyro_vae.Config"],
}


def _seconds(arguments: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, *arguments], capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command")
    args = parser.parse_args()
    rows = []
    for name, arguments in CASES.items():
        times = _seconds(arguments, args.repeats)
        rows.append({"command": name, "median_seconds": statistics.median(times), "runs": times})
        print(f"{name}: {statistics.median(times):.2f} s", flush=True)
    save_result("cli_speed", {"repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
