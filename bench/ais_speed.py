"""Speed of the AIS inner loop against a hand-written PyTorch HMC loop on the same model and batch.

Both run AIS from the guide of the default MNIST-sized model (784-200-200-50, untrained: speed
does not depend on the weights) on the same batch of images and chains, with the same schedule
and number of leapfrog steps, and the same number of chains in all: ours runs ``--chains`` minus
``--tuning`` weighted chains plus ``--tuning`` tuning chains (whose acceptance adapts the step
size of each image), the hand-written loop adapts the same way. The hand-written loop computes
the same densities with the parts called directly and no bookkeeping beyond what the algorithm
needs. They alternate in one process; the ratio (hand-written seconds / ours) is what the target
compares (at least 0.8).

A third runner is ours with the leapfrog steps' potential and gradient compiled by
``torch.compile`` (:class:`pyro_vae.estimate.compiled_potential.CompiledPotential`, what
``evaluate --compile torch`` uses for AIS): its compile time is reported apart (paid once, in
the warm-up), and its estimates are compared with the uncompiled ones from the same noise.

Usage:
    python bench/ais_speed.py [--images 100] [--chains 20] [--tuning 4] [--steps 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from pyro_vae import Config, build_vae
from pyro_vae.estimate.ais import annealed_importance_sampling, sigmoid_schedule
from pyro_vae.estimate.compiled_potential import CompiledPotential

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result


def bare_ais(
    vae, x, chains: int, tuning: int, steps: int, leapfrog: int, step_size: float
) -> torch.Tensor:
    """AIS from the guide written out with torch only: what the package is timed against.

    The last ``tuning`` chains adapt each image's step size and carry no weight.
    """
    with torch.no_grad():
        q = vae.encoder(x)
        z = q.sample((chains,))
    betas = sigmoid_schedule(steps).tolist()
    eps = torch.full((x.shape[0],), step_size)
    recent = torch.full((x.shape[0],), 0.65)
    log_w = torch.zeros(z.shape[:-1], dtype=torch.float64)

    def potential(z, beta):
        z = z.detach().requires_grad_(True)
        log_q = q.log_prob(z)
        log_joint = vae.prior().log_prob(z) + vae.likelihood(z).log_prob(x)
        log_f = (1 - beta) * log_q + beta * log_joint
        (grad,) = torch.autograd.grad(log_f.sum(), [z])
        return log_f.detach(), (log_joint - log_q).detach(), grad

    for t in range(1, steps + 1):
        log_f0, ratio, grad = potential(z, betas[t])
        log_w += (betas[t] - betas[t - 1]) * ratio.double()
        p0 = torch.randn_like(z)
        e = eps.unsqueeze(-1)
        p = p0 + 0.5 * e * grad
        z1 = z
        for i in range(leapfrog):
            z1 = z1 + e * p
            log_f, _, grad = potential(z1, betas[t])
            p = p + (1.0 if i < leapfrog - 1 else 0.5) * e * grad
        log_ratio = (log_f - 0.5 * (p * p).sum(-1)) - (log_f0 - 0.5 * (p0 * p0).sum(-1))
        probability = log_ratio.clamp(max=0.0).exp()
        accept = torch.rand_like(log_ratio) < probability
        z = torch.where(accept.unsqueeze(-1), z1, z).detach()
        recent = 0.9 * recent + 0.1 * probability[chains - tuning :].mean(0)
        eps = torch.where(recent > 0.65, eps * 1.02, eps * 0.98).clamp(1e-4, 0.5)
    return torch.logsumexp(log_w[: chains - tuning], 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--chains", type=int, default=20, help="chains in all, per image")
    parser.add_argument("--tuning", type=int, default=4, help="of which tuning chains")
    parser.add_argument("--steps", type=int, default=20, help="AIS steps per timed run")
    parser.add_argument("--leapfrog", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    vae = build_vae(Config(), data_dim=784)
    x = torch.bernoulli(torch.full((args.images, 784), 0.13))

    potential = CompiledPotential(vae.model, vae.guide)

    def ours(compiled: CompiledPotential | None = None) -> torch.Tensor:
        torch.manual_seed(1)
        return annealed_importance_sampling(
            vae.model,
            vae.guide,
            x,
            num_chains=args.chains - args.tuning,
            tuning_chains=args.tuning,
            num_steps=args.steps,
            leapfrog_steps=args.leapfrog,
            warmup_steps=0,  # the hand-written loop has none: the same transitions in both
            compiled=compiled,
        ).estimate

    def bare() -> None:
        bare_ais(vae, x, args.chains, args.tuning, args.steps, args.leapfrog, 0.05)

    plain = ours()  # warm up, and the compile
    fast = ours(potential)
    bare()
    difference = float(abs(torch.as_tensor(fast) - torch.as_tensor(plain)).max())
    runners = {"ours": ours, "compiled": lambda: ours(potential), "bare": bare}
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, fn in runners.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    per_step = {k: statistics.median(v) / args.steps for k, v in times.items()}
    ratio = per_step["bare"] / per_step["ours"]
    save_result(
        "ais_speed",
        {
            "images": args.images,
            "chains": args.chains,
            "tuning_chains": args.tuning,
            "leapfrog_steps": args.leapfrog,
            "steps_per_run": args.steps,
            "seconds_per_step": per_step,
            "ratio_bare_over_ours": ratio,
            "ratios_per_round": [b / o for b, o in zip(times["bare"], times["ours"], strict=True)],
            "speedup_compiled": per_step["ours"] / per_step["compiled"],
            "speedups_compiled_per_round": [
                o / c for o, c in zip(times["ours"], times["compiled"], strict=True)
            ],
            "ratio_bare_over_compiled": per_step["bare"] / per_step["compiled"],
            "compile_seconds": potential.compile_seconds,
            "compilations": potential.compilations,
            "compile_failure": potential.failure,
            "max_estimate_difference_compiled": difference,
        },
    )
    print(
        f"ais_speed: {1e3 * per_step['ours']:.1f} ms per AIS step (ours) vs "
        f"{1e3 * per_step['bare']:.1f} ms (hand-written): ratio {ratio:.2f}; compiled "
        f"{1e3 * per_step['compiled']:.1f} ms ({per_step['ours'] / per_step['compiled']:.2f}x "
        f"faster, compiled in {potential.compile_seconds:.0f} s; estimates differ by at most "
        f"{difference:.2g} nats)"
    )


if __name__ == "__main__":
    main()
