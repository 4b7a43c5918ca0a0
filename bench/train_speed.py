"""Training speed: one SVI step of our VAE against the same step written in bare PyTorch.

For the default architecture (784-200-200-50 tanh MLPs, Bernoulli likelihood, Adam, batch 100)
and each objective -- ``Trace_ELBO``, ``TraceMeanField_ELBO`` (analytic KL) and IWAE with k = 5
-- this script builds

* **ours, traced**: exactly what ``pyro_vae.train`` runs per step with ``--jit off`` (and for
  IWAE): the objective from ``build_objective`` computes loss and gradients of model and guide
  (wrapped in the KL-weight messenger) with ``loss_and_grads``, the gradients are checked for
  non-finite values, and one fused ``torch.optim.Adam`` over all parameters steps;
* **ours, JIT**: the same with Pyro's JIT objective compiled once
  (``objectives.compile_objective``), what ``pyro_vae.train`` runs with ``--compile jit`` (and
  ``auto`` for short runs) for Trace_ELBO and TraceMeanField_ELBO;
* **ours, torch.compile**: the same with the loss captured and compiled by ``torch.compile``
  (``pyro_vae.running.compiled.CompiledLoss``), what ``pyro_vae.train`` runs with ``--compile
  torch`` (and ``auto`` for runs long enough to repay its compile time), for every objective;
* **SVI**: the textbook Pyro step, ``SVI(model, guide, pyro.optim.Adam, objective).step``, which
  keeps one Adam per parameter tensor;
* **bare**: a hand-written PyTorch step with copies of the same networks computing the same
  objective (reparameterized z, Bernoulli log-likelihood as x.l - softplus(l), Gaussian
  log-densities or the closed-form KL, logsumexp over the k samples for IWAE, the VampPrior's
  mixture over the encoded pseudo-inputs) and the same fused ``torch.optim.Adam``;
* **bare, torch.compile**: that step's loss compiled by ``torch.compile`` the same way
  (inductor, torch's own random kernels), the second peer.

The rows are Trace_ELBO, TraceMeanField_ELBO, IWAE with k = 5 and Trace_ELBO with the
VampPrior (``--prior vamp``, 500 pseudo-inputs). Compile times are those of a fresh inductor
cache (the script points inductor at an empty temporary folder).

It also times torch's default Adam against the fused one on the model's parameters (the
trainer's choice, ``objectives.make_optimizer``).

It first checks that both compute the same objective value (same weights, same noise), then
times them alternately in the same process, ``--steps`` steps per round for ``--rounds`` rounds,
and reports the median of the per-round ratios ours / bare. With ``--profile`` it adds the top
operators of each step under ``torch.profiler``.

Usage:
    python bench/train_speed.py [--data-dir ../shared/data/mnist] [--profile] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# a fresh inductor cache: the compile times reported are what a first run pays
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inductor-"))

import pyro
import torch
from pyro.infer import SVI
from torch.nn import functional as F

from pyro_vae import Config, build_vae, load_data
from pyro_vae.running.compiled import CompiledLoss
from pyro_vae.running.objectives import (
    LatentScale,
    build_objective,
    compile_objective,
    make_optimizer,
    nonfinite_problem,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

#: (objective, k, prior): the rows
OBJECTIVES = [
    ("elbo", 1, "standard-normal"),
    ("analytic-kl", 1, "standard-normal"),
    ("iwae", 5, "standard-normal"),
    ("elbo", 1, "vamp"),
]
#: The objectives Pyro has a JIT version of (the ``--jit`` side is timed for these).
JIT_OBJECTIVES = ("elbo", "analytic-kl")
_LOG_2PI = math.log(2 * math.pi)


def ours(
    vae: torch.nn.Module,
    objective: str,
    particles: int,
    jit_batch: torch.Tensor | None = None,
    check: bool = True,
) -> Callable[[torch.Tensor], float]:
    """The step ``pyro_vae.train`` takes; with ``jit_batch``, the ``--jit`` step compiled on it.

    ``check=False`` leaves out the non-finite check, to measure what that check costs.
    """
    scale = LatentScale(1.0)
    model, guide = scale(vae.model), scale(vae.guide)
    elbo = build_objective(objective, particles, jit_batch is not None)
    if jit_batch is not None:
        compile_objective(elbo, model, guide, jit_batch)
    parameters = list(vae.parameters())
    optimizer = make_optimizer(parameters, 1e-3)

    def step(x: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = float(elbo.loss_and_grads(model, guide, x))
        if check and nonfinite_problem(loss, parameters):  # the trainer's check before Adam
            raise FloatingPointError(loss)
        optimizer.step()
        return loss

    return step


def ours_torch(
    vae: torch.nn.Module, objective: str, particles: int, batch: torch.Tensor
) -> tuple[Callable[[torch.Tensor], float], float]:
    """The ``--compile torch`` step (compiled on ``batch``) and its compile seconds."""
    scale = LatentScale(1.0)
    model, guide = scale(vae.model), scale(vae.guide)
    loss = CompiledLoss(objective, particles, model, guide, vae, vae.name, scale=scale)
    loss.prepare(batch)
    parameters = list(vae.parameters())
    optimizer = make_optimizer(parameters, 1e-3)

    def step(x: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        value = loss(x)
        value.backward()
        result = float(value.detach())
        if nonfinite_problem(result, parameters):  # the trainer's check before Adam
            raise FloatingPointError(result)
        optimizer.step()
        return result

    return step, loss.compile_seconds


def svi(vae: torch.nn.Module, objective: str, particles: int) -> Callable[[torch.Tensor], float]:
    """The textbook Pyro step on a copy of the model."""
    vae = copy.deepcopy(vae)
    vae.name = "svi"  # its own entries in Pyro's param store, apart from ours
    optim = pyro.optim.Adam({"lr": 1e-3})
    return SVI(vae.model, vae.guide, optim, build_objective(objective, particles)).step


def _gaussian(encoder: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    loc, raw_scale = encoder(x).chunk(2, dim=-1)
    return loc, F.softplus(raw_scale) + 1e-5


def bare_loss(
    encoder: torch.nn.Module,
    decoder: torch.nn.Module,
    x: torch.Tensor,
    objective: str,
    particles: int,
    pseudo_inputs: torch.Tensor | None = None,
) -> torch.Tensor:
    """The negative objective summed over the batch, by hand (VampPrior with ``pseudo_inputs``)."""
    loc, scale = _gaussian(encoder, x)
    eps = torch.randn((particles, *loc.shape))
    z = loc + scale * eps  # [k, B, d]
    logits = decoder(z)
    log_lik = (logits * x).sum(-1) - F.softplus(logits).sum(-1)
    if objective == "analytic-kl":
        kl = 0.5 * (scale**2 + loc**2 - 1.0).sum(-1) - scale.log().sum(-1)
        return -(log_lik - kl).mean(0).sum()
    log_q = (-0.5 * eps**2 - scale.log() - 0.5 * _LOG_2PI).sum(-1)
    if pseudo_inputs is None:
        log_p = (-0.5 * z**2 - 0.5 * _LOG_2PI).sum(-1)
    else:  # (1/K) sum_k Q(z | u_k), the pseudo-inputs encoded
        p_loc, p_scale = _gaussian(encoder, torch.sigmoid(pseudo_inputs))
        u = (z.unsqueeze(-2) - p_loc) / p_scale  # [k, B, K, d]
        each = (-0.5 * u**2 - p_scale.log() - 0.5 * _LOG_2PI).sum(-1)
        log_p = torch.logsumexp(each, -1) - math.log(pseudo_inputs.shape[0])
    log_w = log_lik + log_p - log_q
    if objective == "iwae":
        return -(torch.logsumexp(log_w, 0) - math.log(particles)).sum()
    return -log_w.mean(0).sum()


def _pseudo_inputs(vae: torch.nn.Module) -> torch.Tensor | None:
    return getattr(vae.prior, "pseudo_inputs", None)


def bare(
    vae: torch.nn.Module, objective: str, particles: int, batch: torch.Tensor | None = None
) -> tuple[Callable[[torch.Tensor], float], float]:
    """A hand-written step on copies of the same networks; with ``batch``, compiled on it.

    Returns the step and its compile seconds (0 uncompiled).
    """
    encoder = copy.deepcopy(vae.encoder.net)
    decoder = copy.deepcopy(vae.likelihood.decoder)
    pseudo = _pseudo_inputs(vae)
    pseudo = None if pseudo is None else torch.nn.Parameter(pseudo.detach().clone())
    extra = [] if pseudo is None else [pseudo]
    parameters = [*encoder.parameters(), *decoder.parameters(), *extra]
    optim = make_optimizer(parameters, 1e-3)  # fused Adam

    def loss_of(x: torch.Tensor) -> torch.Tensor:
        return bare_loss(encoder, decoder, x, objective, particles, pseudo)

    if batch is not None:
        options = {"fallback_random": True}  # torch's own random kernels, as ours
        loss_of = torch.compile(loss_of, options=options, dynamic=False, fullgraph=True)

    def step(x: torch.Tensor) -> float:
        loss = loss_of(x)
        optim.zero_grad()
        loss.backward()
        optim.step()
        return loss.item()

    seconds = 0.0
    if batch is not None:
        started = time.perf_counter()
        with torch.random.fork_rng():
            loss_of(batch).backward()  # compiles forward and backward
        optim.zero_grad()
        seconds = time.perf_counter() - started
    return step, seconds


def same_value(vae: torch.nn.Module, x: torch.Tensor, objective: str, particles: int) -> float:
    """|ours - bare| / |bare| for one loss evaluation with the same weights and noise."""
    elbo = build_objective(objective, particles)
    torch.manual_seed(1)
    mine = elbo.loss(vae.model, vae.guide, x)
    torch.manual_seed(1)
    with torch.no_grad():
        theirs = float(
            bare_loss(
                vae.encoder.net,
                vae.likelihood.decoder,
                x,
                objective,
                particles,
                _pseudo_inputs(vae),
            )
        )
    return abs(mine - theirs) / abs(theirs)


def timed(step: Callable[[torch.Tensor], float], batches: list[torch.Tensor]) -> float:
    start = time.perf_counter()
    for batch in batches:
        step(batch)
    return time.perf_counter() - start


def profile(step: Callable[[torch.Tensor], float], batches: list[torch.Tensor]) -> list[dict]:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        timed(step, batches)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:8]
    return [{"op": e.key, "share": e.self_cpu_time_total / total, "calls": e.count} for e in top]


# Python-level parts of our step, by (file suffix, function name), for --profile.
_PARTS = {
    "model and guide traced (incl. their networks)": ("pyro/infer/enum.py", "get_importance_trace"),
    "  of which pyro.module registration": ("pyro/primitives.py", "module"),
    "  of which log-densities of the traces": ("pyro/poutine/trace_struct.py", "compute_log_prob"),
    "  of which the networks' forward": ("torch/nn/modules/module.py", "_call_impl"),
    "backward pass": ("torch/autograd/__init__.py", "backward"),
    "Adam step": ("torch/optim/adam.py", "step"),
}


# The compiled step and the bare one, part by part, for --profile.
_STEP_PARTS = {
    "forward (the loss)": [("pyro/ops/jit.py", "__call__"), ("bench/train_speed.py", "bare_loss")],
    "backward pass": [("torch/autograd/__init__.py", "backward")],
    "non-finite check": [("pyro_vae/running/objectives.py", "nonfinite_problem")],
    "Adam step": [("torch/optim/adam.py", "step")],
}


def _cprofile(step: Callable[[torch.Tensor], float], batches: list[torch.Tensor]) -> dict:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    timed(step, batches)
    profiler.disable()
    return pstats.Stats(profiler).stats  # type: ignore[attr-defined]


def _cumulative(stats: dict, places: list[tuple[str, str]]) -> float:
    """Cumulative seconds in the functions at ``places`` (file suffix, function name)."""
    return sum(
        value[3]
        for (path, _, func), value in stats.items()
        if any(path.endswith(suffix) and func == name for suffix, name in places)
    )


def step_parts(
    sides: dict[str, Callable[[torch.Tensor], float]], batches: list[torch.Tensor], rounds: int
) -> dict[str, dict[str, float]]:
    """Side -> milliseconds per step in each part of :data:`_STEP_PARTS` and the rest.

    Under cProfile, the sides alternating for ``rounds`` rounds; medians over the rounds.
    """
    times: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for _ in range(rounds):
        for side, step in sides.items():
            stats = _cprofile(step, batches)
            total = sum(value[2] for value in stats.values())
            parts = {part: _cumulative(stats, places) for part, places in _STEP_PARTS.items()}
            parts["everything else"] = total - sum(parts.values())
            for part, seconds in parts.items():
                times[side].setdefault(part, []).append(1e3 * seconds / len(batches))
    return {
        side: {part: statistics.median(values) for part, values in parts.items()}
        for side, parts in times.items()
    }


def adam_times(vae: torch.nn.Module, rounds: int, steps: int) -> dict[str, float]:
    """Milliseconds per step of torch's default Adam and the fused one, alternating."""
    times: dict[str, list[float]] = {"default": [], "fused": []}
    optimizers = {}
    for kind in times:
        parameters = [p.detach().clone().requires_grad_() for p in vae.parameters()]
        for p in parameters:
            p.grad = torch.randn_like(p)
        optimizers[kind] = torch.optim.Adam(parameters, lr=1e-3, fused=kind == "fused")
        optimizers[kind].step()
    for _ in range(rounds):
        for kind, optimizer in optimizers.items():
            start = time.perf_counter()
            for _ in range(steps):
                optimizer.step()
            times[kind].append(1e3 * (time.perf_counter() - start) / steps)
    return {kind: statistics.median(values) for kind, values in times.items()}


def python_profile(step: Callable[[torch.Tensor], float], batches: list[torch.Tensor]) -> dict:
    """Shares of the step's time in its main Python-level parts (cProfile, cumulative)."""
    stats = _cprofile(step, batches)
    total = sum(value[2] for value in stats.values())  # own times add up to the whole
    return {part: _cumulative(stats, [place]) / total for part, place in _PARTS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST IDX folder (default: random binary images)")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds")
    parser.add_argument("--steps", type=int, default=30, help="steps per round and side")
    parser.add_argument("--profile", action="store_true", help="add an operator profile")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads for both sides (0: torch's default)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    if args.data_dir:
        x = load_data(Config(dataset="mnist", data_dir=args.data_dir), "binary").train
        x = torch.bernoulli(x[: 100 * args.steps])
    else:
        x = torch.bernoulli(torch.full((100 * args.steps, 784), 0.13))
    batches = list(x.split(100))

    rows = []
    for objective, particles, prior in OBJECTIVES:
        pyro.clear_param_store()
        vae = build_vae(Config(prior=prior), data_dim=784)
        vae.init_from_data(x)
        gap = same_value(vae, batches[0], objective, particles)
        pyro.clear_param_store()
        sides = {
            "ours": ours(vae, objective, particles),
            "svi": svi(vae, objective, particles),
            "bare": bare(vae, objective, particles)[0],
        }
        compiled_bare, bare_seconds = bare(vae, objective, particles, batches[0])
        torch_vae = copy.deepcopy(vae)
        torch_vae.name = "torch"  # its own entries in Pyro's param store
        sides["torch"], torch_seconds = ours_torch(torch_vae, objective, particles, batches[0])
        sides["bare_compiled"] = compiled_bare
        if objective in JIT_OBJECTIVES and prior == "standard-normal":
            for name, check in (("jit", True), ("jit_unchecked", False)):
                compiled = copy.deepcopy(vae)
                compiled.name = name  # its own entries in Pyro's param store
                sides[name] = ours(compiled, objective, particles, batches[0], check)
        for step in sides.values():  # warm-up
            timed(step, batches[:5])
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, step in sides.items():
                times[name].append(timed(step, batches) / len(batches))

        def ratios(a: str, b: str, times: dict[str, list[float]] = times) -> list[float]:
            return [p / q for p, q in zip(times[a], times[b], strict=True)]

        row = {
            "objective": objective,
            "num_particles": particles,
            "prior": prior,
            "relative_difference_of_objective": gap,
            "ms_per_step_ours": 1e3 * statistics.median(times["ours"]),
            "ms_per_step_svi": 1e3 * statistics.median(times["svi"]),
            "ms_per_step_bare": 1e3 * statistics.median(times["bare"]),
            "ms_per_step_torch": 1e3 * statistics.median(times["torch"]),
            "ms_per_step_bare_compiled": 1e3 * statistics.median(times["bare_compiled"]),
            "ratio": statistics.median(ratios("ours", "bare")),
            "ratio_svi": statistics.median(ratios("svi", "bare")),
            "ratio_min": min(ratios("ours", "bare")),
            "ratio_max": max(ratios("ours", "bare")),
            "ratio_torch": statistics.median(ratios("torch", "bare")),
            "ratio_torch_min": min(ratios("torch", "bare")),
            "ratio_torch_max": max(ratios("torch", "bare")),
            "ratio_torch_to_compiled_bare": statistics.median(ratios("torch", "bare_compiled")),
            "ratio_compiled_bare": statistics.median(ratios("bare_compiled", "bare")),
            "compile_seconds_torch": torch_seconds,
            "compile_seconds_bare": bare_seconds,
        }
        if "jit" in sides:
            row["ms_per_step_jit"] = 1e3 * statistics.median(times["jit"])
            row["ratio_jit"] = statistics.median(ratios("jit", "bare"))
            row["ratio_jit_min"] = min(ratios("jit", "bare"))
            row["ratio_jit_max"] = max(ratios("jit", "bare"))
            row["ratio_jit_unchecked"] = statistics.median(ratios("jit_unchecked", "bare"))
        if args.profile:
            row["python_profile_ours"] = python_profile(sides["ours"], batches)
            if "jit" in sides:
                parts = step_parts({"jit": sides["jit"], "bare": sides["bare"]}, batches, 9)
                row["parts_jit"], row["parts_bare"] = parts["jit"], parts["bare"]
            row["profile_ours"] = profile(sides["ours"], batches)
            row["profile_bare"] = profile(sides["bare"], batches)
        rows.append(row)
        print(
            f"{objective:>12} k={particles} {prior}: torch.compile {row['ratio_torch']:.3f}x bare "
            f"eager, {row['ratio_torch_to_compiled_bare']:.3f}x bare compiled; traced "
            f"{row['ratio']:.3f}, --compile jit {row.get('ratio_jit', math.nan):.3f}; compile "
            f"{torch_seconds:.1f} s (bare {bare_seconds:.1f} s); objective values differ by "
            f"{gap:.1e}",
            flush=True,
        )
    adam = adam_times(build_vae(Config(), data_dim=784), args.rounds, args.steps)
    save_result(
        "train_speed",
        {
            "batch_size": 100,
            "rounds": args.rounds,
            "steps": args.steps,
            "rows": rows,
            "adam_ms_per_step": adam,
        },
    )
    default = rows[0]
    print(
        f"train_speed: Trace_ELBO step with torch.compile {default['ratio_torch']:.3f}x bare "
        f"eager PyTorch (target 0.85), {default['ratio_torch_to_compiled_bare']:.3f}x bare "
        f"compiled (target 1.05)"
    )


if __name__ == "__main__":
    main()
