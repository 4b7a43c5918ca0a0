"""Evaluation speed: is log P(X) estimation bound by the decoder's own matrix work?

For the default MNIST architecture (784-200-200-50 tanh MLPs, Bernoulli likelihood) this script

1. times ``estimate_dataset`` (``log_likelihood`` over batches of test points) with K samples per
   point, for the guide and the prior proposal, and turns the time into the decoder GFLOP/s it
   achieved (decoder FLOPs of all N * K samples / wall time: everything else the estimator does
   -- tracing, sampling, log-densities, logsumexp, the Pareto tail -- counts against it);
2. times a bare forward pass of the same decoder on exactly the same chunk shapes, alternating
   with (1) in the same process, and reports the median GFLOP/s of each and their ratio;
3. times the same importance sampling with its weights compiled by ``torch.compile``
   (:class:`pyro_vae.estimate.compiled_weights.CompiledWeights`, what ``evaluate --compile
   torch`` runs), alternating with the uncompiled estimator on the same points and seeds, both
   as above (``--batch-size`` points per pass) and as ``evaluate`` draws (one point per pass,
   each from its own stream), and checks that the estimates agree; the compile time is that
   of a fresh inductor cache;
4. measures the peak resident memory of the estimator in fresh processes for growing K and N
   (it should not grow with either), on random binary images of MNIST's size.

Usage:
    python bench/eval_speed.py [--data-dir ../shared/data/mnist] [--run RUN_DIR]

Without ``--data-dir`` the points are random binary images (the speed does not depend on the
pixel values); without ``--run`` the weights are freshly initialized.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# a fresh inductor cache: the compile time reported is what a first evaluation pays
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inductor-"))

import torch

from pyro_vae import Config, build_vae, load_data, load_run
from pyro_vae.estimate.compiled_weights import CompiledWeights
from pyro_vae.estimate.dataset import estimate_dataset
from pyro_vae.estimate.importance import default_chunk_size, log_likelihood

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import peak_rss_mib, save_result


def decoder_flops_per_sample(decoder: torch.nn.Module) -> int:
    """Multiply-adds of every Linear layer, times two."""
    return sum(
        2 * m.in_features * m.out_features
        for m in decoder.modules()
        if isinstance(m, torch.nn.Linear)
    )


def setup(args: argparse.Namespace) -> tuple[torch.nn.Module, torch.Tensor]:
    if args.run:
        vae = load_run(args.run).vae
    else:
        torch.manual_seed(0)
        vae = build_vae(Config(), data_dim=784)
    if args.data_dir:
        x = load_data(Config(dataset="mnist", data_dir=args.data_dir), "binary").test
    else:
        x = torch.bernoulli(torch.full((args.num_points, 784), 0.13, generator=None))
    return vae.eval(), x[: args.num_points]


@torch.no_grad()
def bare_decoder(
    decoder: torch.nn.Module, x: torch.Tensor, num_samples: int, batch_size: int, latent_dim: int
) -> float:
    """Seconds for the decoder alone on the chunk shapes ``log_likelihood`` uses."""
    calls = []
    for start in range(0, x.shape[0], batch_size):
        batch = x[start : start + batch_size]
        chunk = default_chunk_size(batch, num_samples)
        for k0 in range(0, num_samples, chunk):
            calls.append((min(chunk, num_samples - k0), batch.shape[0]))
    inputs = {shape: torch.randn(*shape, latent_dim) for shape in set(calls)}
    start = time.perf_counter()
    for shape in calls:
        decoder(inputs[shape])
    return time.perf_counter() - start


def speed(args: argparse.Namespace) -> dict:
    vae, x = setup(args)
    decoder = vae.likelihood.decoder
    flops = decoder_flops_per_sample(decoder) * x.shape[0] * args.num_samples
    latent_dim = vae.prior().event_shape[0]
    # warm up both paths once
    estimate_dataset(
        vae.model,
        vae.guide,
        x[: args.batch_size],
        200,
        proposal="guide",
        batch_size=args.batch_size,
    )
    bare_decoder(decoder, x[: args.batch_size], 200, args.batch_size, latent_dim)
    times: dict[str, list[float]] = {"bare": [], "guide": [], "prior": []}
    for _ in range(args.rounds):
        for proposal in ("guide", "prior"):
            torch.manual_seed(0)
            start = time.perf_counter()
            estimate_dataset(
                vae.model,
                vae.guide,
                x,
                args.num_samples,
                proposal=proposal,
                batch_size=args.batch_size,
            )
            times[proposal].append(time.perf_counter() - start)
            times["bare"].append(
                bare_decoder(decoder, x, args.num_samples, args.batch_size, latent_dim)
            )
    gflops = {name: flops / statistics.median(t) / 1e9 for name, t in times.items()}
    return {
        "num_points": int(x.shape[0]),
        "num_samples": args.num_samples,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "decoder_gflop": flops / 1e9,
        "seconds_median": {name: statistics.median(t) for name, t in times.items()},
        "gflops": gflops,
        "ratio_guide": gflops["guide"] / gflops["bare"],
        "ratio_prior": gflops["prior"] / gflops["bare"],
    }


def _importance_sampling(
    vae: torch.nn.Module,
    x: torch.Tensor,
    num_samples: int,
    batch_size: int,
    compiled: CompiledWeights | None,
) -> tuple[float, torch.Tensor]:
    """Seconds and estimates of importance sampling over ``x``, ``batch_size`` points per pass.

    Every pass is seeded by its index: the same draws with and without ``compiled``.
    """
    estimates = []
    start = time.perf_counter()
    for i, first in enumerate(range(0, x.shape[0], batch_size)):
        torch.manual_seed(i)
        batch = x[first : first + batch_size]
        result = log_likelihood(vae.model, vae.guide, batch, num_samples, compiled=compiled)
        estimates.append(torch.as_tensor(result.estimate))
    return time.perf_counter() - start, torch.cat(estimates)


def compiled_speed(args: argparse.Namespace) -> dict:
    """The estimator with and without compiled weights, alternating; two ways of batching."""
    vae, x = setup(args)
    rows = {}
    for name, batch_size, points in (
        ("batched", args.batch_size, x),
        ("per_point", 1, x[: args.per_point]),
    ):
        weights = CompiledWeights(vae.model, vae.guide)
        started = time.perf_counter()
        _importance_sampling(vae, points[:batch_size], args.num_samples, batch_size, weights)
        first_pass = time.perf_counter() - started
        times: dict[str, list[float]] = {"eager": [], "compiled": []}
        found = {}
        for _ in range(args.rounds):
            for side, compiled in (("eager", None), ("compiled", weights)):
                seconds, found[side] = _importance_sampling(
                    vae, points, args.num_samples, batch_size, compiled
                )
                times[side].append(seconds)
        ratios = [e / c for e, c in zip(times["eager"], times["compiled"], strict=True)]
        difference = (found["eager"] - found["compiled"]).abs()
        rows[name] = {
            "points": int(points.shape[0]),
            "points_per_pass": batch_size,
            "seconds_eager": statistics.median(times["eager"]),
            "seconds_compiled": statistics.median(times["compiled"]),
            "speedup": statistics.median(ratios),
            "speedup_min": min(ratios),
            "speedup_max": max(ratios),
            "compile_seconds": weights.compile_seconds,
            "graphs": weights.compilations,
            "first_pass_seconds": first_pass,
            "max_abs_difference_nats": float(difference.max()),
            "max_relative_difference": float((difference / found["eager"].abs()).max()),
        }
        print(
            f"  compiled ({name}): {rows[name]['speedup']:.2f}x faster "
            f"({rows[name]['seconds_eager']:.1f} s -> {rows[name]['seconds_compiled']:.1f} s), "
            f"compile {weights.compile_seconds:.1f} s for {weights.compilations} graphs, "
            f"estimates differ by at most {rows[name]['max_abs_difference_nats']:.1e} nats"
        )
    return rows


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux); False where that is refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def profile(args: argparse.Namespace, top: int = 8) -> list[dict]:
    """Where the estimator's time goes: share of self CPU time per operator (torch.profiler)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    vae, x = setup(args)
    batch = x[: args.batch_size]
    estimate_dataset(vae.model, vae.guide, batch, 200, proposal="guide", batch_size=args.batch_size)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        estimate_dataset(
            vae.model, vae.guide, batch, 1000, proposal="guide", batch_size=args.batch_size
        )
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [
        {"op": e.key, "share": e.self_cpu_time_total / total, "calls": e.count}
        for e in events[:top]
    ]


def memory_probe(args: argparse.Namespace) -> None:
    """Run one evaluation in this (fresh) process; print the RSS before it and its peak.

    The data are random binary images of MNIST's size (the memory does not depend on pixel
    values), so that loading a data set leaves no earlier peak in the process.
    """
    torch.manual_seed(0)
    vae = build_vae(Config(), data_dim=784).eval()
    x = torch.bernoulli(torch.full((args.num_points, 784), 0.13))
    estimate_dataset(
        vae.model, vae.guide, x[:2], 30, proposal="guide", batch_size=args.batch_size
    )  # load everything
    if not _reset_peak_rss():
        print(json.dumps({"before_mib": peak_rss_mib(), "peak_mib": float("nan")}))
        return
    before = _rss_mib("VmRSS")
    estimate_dataset(
        vae.model, vae.guide, x, args.num_samples, proposal="guide", batch_size=args.batch_size
    )
    print(json.dumps({"before_mib": before, "peak_mib": _rss_mib("VmHWM")}))


def memory(args: argparse.Namespace) -> list[dict]:
    rows = []
    for num_points, num_samples in (
        (100, 1000),
        (100, 5000),
        (100, 20000),
        (100, 100_000),
        (1000, 5000),
    ):
        cmd = [
            sys.executable,
            __file__,
            "--memory-probe",
            "--num-points",
            str(num_points),
            "--num-samples",
            str(num_samples),
            "--batch-size",
            str(args.batch_size),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        probe = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(
            {
                "num_points": num_points,
                "num_samples": num_samples,
                "baseline_mib": probe["before_mib"],
                "peak_mib": probe["peak_mib"],
                "growth_mib": probe["peak_mib"] - probe["before_mib"],
            }
        )
        print(
            f"  memory: N={num_points:5d} K={num_samples:6d}  peak {probe['peak_mib']:.0f} MiB "
            f"(+{rows[-1]['growth_mib']:.0f} MiB over the loaded model and data)"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST IDX folder (default: random binary images)")
    parser.add_argument("--run", help="a trained MNIST run directory (default: fresh weights)")
    parser.add_argument("--num-points", type=int, default=500, help="test points (default 500)")
    parser.add_argument("--num-samples", type=int, default=5000, help="K (default 5000)")
    parser.add_argument("--batch-size", type=int, default=100, help="points per pass (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating repeats (default 3)")
    parser.add_argument(
        "--per-point", type=int, default=100, help="points of the one-per-pass row (default 100)"
    )
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args)
        return
    result = speed(args)
    g = result["gflops"]
    print(
        f"N={result['num_points']} points, K={result['num_samples']}: decoder GFLOP/s "
        f"bare {g['bare']:.1f}, inside log_likelihood: guide {g['guide']:.1f}, "
        f"prior {g['prior']:.1f}"
    )
    result["compiled"] = compiled_speed(args)
    result["profile"] = profile(args)
    for row in result["profile"]:
        print(f"  profile: {row['op']:<28} {100 * row['share']:5.1f}% of operator time")
    result["memory"] = memory(args)
    path = save_result("eval_speed", result)
    print(f"results in {path}")
    print(
        f"eval_speed: decoder GFLOP/s inside log_likelihood / bare forward = "
        f"{result['ratio_guide']:.2f} (guide), {result['ratio_prior']:.2f} (prior); "
        f"compiled importance sampling {result['compiled']['per_point']['speedup']:.2f}x "
        f"faster one point per pass (target 1.3)"
    )


if __name__ == "__main__":
    main()
