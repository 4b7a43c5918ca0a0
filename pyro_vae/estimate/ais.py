"""Annealed importance sampling (AIS) of log P(X) per datapoint, and bidirectional Monte Carlo.

AIS (Neal 2001) moves chains from a start distribution q0(z) (the guide Q(z|x) or the prior
P(z)) to the posterior through intermediate distributions

    f_t(z) = q0(z)^(1 - beta_t) P(x, z)^beta_t,    0 = beta_0 < beta_1 < ... < beta_T = 1,

with one Hamiltonian Monte Carlo transition leaving f_t invariant at every step, and weights

    log w = sum_t (beta_t - beta_{t-1}) (log P(x, z_{t-1}) - log q0(z_{t-1})),

whose mean over chains is an unbiased estimate of P(x) (Wu, Burda, Salakhutdinov & Grosse 2017).
Run in reverse from an exact posterior sample -- a latent that generated x -- the same weights
estimate 1/P(x): :mod:`pyro_vae.estimate.bdmc` builds bidirectional Monte Carlo on that.

The functions work on any model/guide pair of the project's site convention (every site in
``pyro.plate("data")``, observed sites with ``obs=``; one or several continuous latent sites).
Constrained latents are moved to unconstrained space with ``biject_to`` and its Jacobian.
Chains and datapoints are batched together (a particle plate of chains at dim -2), and memory
does not depend on the number of intermediate distributions (no history is kept).

HMC is written here rather than taken from ``pyro.infer.mcmc``: Pyro's HMC kernel runs one chain
of one joint potential with one step size, while AIS needs a different target at every step
and a step size per datapoint, adapted as the path moves.

Step sizes and why the estimator stays valid: every datapoint runs a few extra *tuning chains*
beside the chains whose weights are averaged. The step size of a datapoint (shared by all its
chains) follows the tuning chains' recent acceptance (an exponential average of their
Metropolis acceptance probabilities; x1.02 above the target rate, x0.98 below, clipped to
[1e-4, 0.5]), and the tuning chains' weights are discarded. So the sequence of kernels the
weighted chains see is independent of their own trajectories; each kernel leaves its f_t
invariant (a Metropolis correction follows every leapfrog trajectory), and the extended-space
argument of AIS holds exactly, given the tuning chains. Adapting a chain from its own
acceptance, as reference implementations do, ties its kernels to its past states: on the
10-dimensional linear-Gaussian model of the tests that estimate came out 0.04 nats low with
128 chains (six standard errors), where fixed or tuning-chain step sizes are unbiased.

Before the path, a short *warm-up* runs HMC transitions on the first distribution f_0 (q0;
in reverse, the posterior) in which the tuning chains adapt the step size fast (x1.25 or x0.8
per transition): a starting step size far off the posterior's scale -- 0.05 against a posterior
a hundred times narrower -- would otherwise take hundreds of steps at x1.02 to correct, so that
a short schedule moves no chain at all. Every chain runs the warm-up (f_0 is what they already
follow, so the weighted chains stay exact draws of it), and its cost is ``warmup_steps``
transitions.

A trajectory that diverges -- a latent or a density that becomes infinite or NaN, a value out
of a distribution's support -- is a rejected proposal: the chains move with Pyro's validation
off (a check would raise on such a value), and a NaN or infinite log-ratio rejects.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyro
import torch
from pyro.distributions.util import sum_rightmost

from pyro_vae.estimate.compiled_potential import CompiledPotential
from pyro_vae.estimate.diagnostics import ess_from_sums, pareto_khat, standard_error_from_ess
from pyro_vae.estimate.importance import LogLikelihood, check_batched, default_dtype
from pyro_vae.estimate.targets import Start, Target, in_data_plate, target_for, tempered
from pyro_vae.progress import progress as reported

__all__ = [
    "AISLikelihood",
    "Start",
    "annealed_importance_sampling",
    "gradient_evaluations",
    "in_data_plate",
    "linear_schedule",
    "sigmoid_schedule",
]

_MIN_STEP, _MAX_STEP = 1e-4, 0.5
_GROW, _SHRINK = 1.02, 0.98
_SLOWNESS = 0.9
_WARMUP_GROW, _WARMUP_SHRINK = 1.25, 0.8


def sigmoid_schedule(num_steps: int, sharpness: float = 4.0) -> torch.Tensor:
    """beta_0 = 0, ..., beta_T = 1 spaced by a sigmoid: dense near both ends (Grosse et al.).

    Example:
        >>> beta = sigmoid_schedule(4)
        >>> beta[0].item(), beta[-1].item(), bool((beta[1:] > beta[:-1]).all())
        (0.0, 1.0, True)
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be positive, got {num_steps}")
    s = torch.sigmoid(
        sharpness * torch.linspace(-1.0, 1.0, num_steps + 1, dtype=torch.float64, device="cpu")
    )
    return (s - s[0]) / (s[-1] - s[0])


def linear_schedule(num_steps: int) -> torch.Tensor:
    """beta_t = t / T.

    Example:
        >>> linear_schedule(4).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be positive, got {num_steps}")
    return torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64, device="cpu")


@dataclass(frozen=True)
class AISLikelihood(LogLikelihood):
    """Per-datapoint AIS estimates: a :class:`LogLikelihood` over chains, plus HMC statistics.

    ``num_samples`` is the number of chains; ``khat`` is NaN below about 25 chains.

    Attributes:
        acceptance: mean HMC acceptance rate per datapoint (over its weighted chains and steps).
        step_size: final step size per datapoint.
        num_steps: T, the number of intermediate distributions.
        start: ``"guide"`` or ``"prior"``.
    """

    acceptance: np.ndarray = None  # type: ignore[assignment]
    step_size: np.ndarray = None  # type: ignore[assignment]
    num_steps: int = 0
    start: str = "guide"

    def summary(self) -> dict[str, Any]:
        """The summary of :class:`LogLikelihood`, with the HMC statistics and the schedule.

        ``reliable`` is ``None``: over a few chains no k-hat can be fitted, and the chains'
        spread says nothing of how far the schedule was from converging (BDMC does).
        """
        return {
            **super().summary(),
            "reliable": None,
            "num_steps": self.num_steps,
            "start": self.start,
            "acceptance": float(np.mean(self.acceptance)),
            "step_size": float(np.mean(self.step_size)),
        }

    @staticmethod
    def concat(parts: Sequence[AISLikelihood]) -> AISLikelihood:  # type: ignore[override]
        """Join results for consecutive batches of the same settings."""
        first = parts[0]
        joined = LogLikelihood.concat(parts)
        return AISLikelihood(
            **{f: getattr(joined, f) for f in _BASE_FIELDS},
            acceptance=np.concatenate([p.acceptance for p in parts]),
            step_size=np.concatenate([p.step_size for p in parts]),
            num_steps=first.num_steps,
            start=first.start,
        )


_BASE_FIELDS = (
    "estimate",
    "standard_error",
    "ess",
    "khat",
    "mean_log_weight",
    "num_samples",
    "proposal",
)


class _State:
    """Unconstrained latents of every chain and what the targets need at them."""

    def __init__(
        self,
        target: Target,
        sites: dict[str, Any],
        chains: int,
        start: Start,
        compiled: CompiledPotential | None,
    ) -> None:
        self.target, self.transforms, self.chains, self.start = target, {}, chains, start
        self.compiled = compiled
        self.u: dict[str, torch.Tensor] = {}
        for name, (value, transform) in sites.items():
            self.transforms[name] = transform
            self.u[name] = transform.inv(value).detach()

    def potential(
        self, u: Mapping[str, torch.Tensor], beta: float, grad: bool
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Log f_beta(u) [C, B], log P(x,z) - log q0(z) [C, B], and the gradient of log f."""
        options = {"chains": self.chains, "start": self.start, "beta": beta}
        # a diverging trajectory reaches values a validity check would raise on: it is rejected
        with pyro.validation_enabled(False):
            if grad and self.compiled is not None:
                return self.compiled(self.target, self.transforms, u, **options)
            return tempered(self.target, self.transforms, u, rest=1.0 - beta, grad=grad, **options)


def _hmc(
    state: _State,
    beta: float,
    step: torch.Tensor,
    leapfrog_steps: int,
    start: tuple[torch.Tensor, dict[str, torch.Tensor]],
    noise: _Noise,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One HMC transition of every chain leaving f_beta invariant.

    ``start`` is log f_beta and its gradient at the current state. Returns whether each chain
    accepted and its acceptance probability, both ``[C, B]``.
    """
    u0 = state.u
    log_f0, grad = start
    eps = {k: _expand(step, v) for k, v in u0.items()}
    momentum = {k: noise.normal(v) for k, v in u0.items()}
    kinetic0 = _kinetic(momentum)
    u = dict(u0)
    p = {k: momentum[k] + 0.5 * eps[k] * grad[k] for k in u}
    for i in range(leapfrog_steps):
        u = {k: u[k] + eps[k] * p[k] for k in u}
        log_f, _, grad = state.potential(u, beta, grad=True)
        scale = 1.0 if i < leapfrog_steps - 1 else 0.5
        p = {k: p[k] + scale * eps[k] * grad[k] for k in u}
    log_ratio = (log_f - _kinetic(p)) - (log_f0 - kinetic0)
    accept = _metropolis(log_ratio, noise.uniform(log_ratio))
    state.u = {k: torch.where(_expand(accept, u[k]), u[k], u0[k]).detach() for k in u}
    return accept, _acceptance_probability(log_ratio)


class _Noise:
    """The random draws of the chains: torch's stream, or one stream per datapoint.

    With ``keys`` (one seed per datapoint), datapoint j's chains draw from a generator seeded
    with ``keys[j]``, so its estimate does not depend on the other datapoints of the batch.
    """

    def __init__(self, keys: Sequence[int] | None, device: torch.device) -> None:
        self.generators = (
            None
            if keys is None
            else [torch.Generator(device=device).manual_seed(int(k)) for k in keys]
        )

    def normal(self, like: torch.Tensor) -> torch.Tensor:
        """Standard normal draws shaped like ``like`` ``[C, B, ...]``."""
        return self._draw(torch.randn, like)

    def uniform(self, like: torch.Tensor) -> torch.Tensor:
        """Uniform draws in [0, 1) shaped like ``like`` ``[C, B, ...]``."""
        return self._draw(torch.rand, like)

    def _draw(self, fn: Callable[..., torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        options = {"dtype": like.dtype, "device": like.device}
        if self.generators is None:
            return fn(like.shape, **options)
        shape = (like.shape[0], *like.shape[2:])
        return torch.stack([fn(shape, generator=g, **options) for g in self.generators], 1)


def _metropolis(log_ratio: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Accept with probability min(1, exp(log_ratio)), given uniform draws in [0, 1).

    Compared as ``u < exp(log_ratio)`` (as Pyro's HMC does), not ``log u < log_ratio``: torch
    draws u = 0 exactly with probability 2^-24 in float32, a few times in a long AIS run, and
    log 0 = -inf would accept any proposal however bad (a diverged trajectory at 1e18 nats).
    A NaN or +inf ratio -- a diverged trajectory -- rejects.
    """
    return uniform < _acceptance_probability(log_ratio)


def _acceptance_probability(log_ratio: torch.Tensor) -> torch.Tensor:
    diverged = log_ratio.isnan() | (log_ratio == math.inf)
    return torch.where(diverged, -math.inf, log_ratio).clamp(max=0.0).exp()


def _expand(per_chain: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return per_chain.reshape(per_chain.shape + (1,) * (like.dim() - per_chain.dim()))


def _kinetic(momentum: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return sum(0.5 * sum_rightmost(p * p, p.dim() - 2) for p in momentum.values())


@torch.no_grad()
def annealed_importance_sampling(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    *,
    args: Sequence[Any] = (),
    num_chains: int = 16,
    num_steps: int = 1000,
    start: Start = "guide",
    schedule: Literal["sigmoid", "linear"] | torch.Tensor = "sigmoid",
    leapfrog_steps: int = 10,
    step_size: float = 0.05,
    target_acceptance: float = 0.65,
    tuning_chains: int = 4,
    warmup_steps: int = 20,
    keys: Sequence[int] | None = None,
    initial: Mapping[str, torch.Tensor] | None = None,
    reverse: bool = False,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    compiled: CompiledPotential | None = None,
) -> AISLikelihood:
    """Estimate log P(x) of every datapoint of ``x`` by annealed importance sampling.

    Args:
        model: Pyro program for P(X|z)P(z), sites in ``pyro.plate("data", B)``.
        guide: Pyro program for Q(z|X) (unused, may be ``None``, with ``start="prior"``).
        x: data batch ``[B, ...]``.
        args: further arguments of model and guide, each batched with ``x`` or ``None``
            (the programs are called as ``model(x, *args)``).
        num_chains: independent chains per datapoint (the estimate averages their weights).
        num_steps: T, intermediate distributions; 0 gives importance sampling with q0.
        start: the start distribution q0: ``"guide"`` (path q^(1-beta) p^beta) or ``"prior"``
            (path p(z) p(x|z)^beta).
        schedule: ``"sigmoid"`` (default), ``"linear"`` or the betas ``[T + 1]`` themselves.
        leapfrog_steps: leapfrog steps per HMC transition.
        step_size: the initial HMC step size of every datapoint.
        target_acceptance: the acceptance rate the step sizes are adapted towards.
        tuning_chains: extra chains per datapoint whose acceptance alone adapts the step size
            and whose weights are discarded (module docstring); 0 keeps ``step_size`` fixed.
        warmup_steps: HMC transitions on the first distribution before the path, in which the
            tuning chains adapt the step size fast (module docstring); 0 skips the warm-up, and
            so do ``tuning_chains=0`` (a fixed step) and ``num_steps=0``.
        keys: one seed per datapoint: each datapoint's chains then draw from their own stream
            (the estimate of a datapoint does not depend on its batch); by default torch's.
        initial: latent values to start every chain from, ``{site: [B, ...]}`` (reverse AIS
            starts from the latents that generated ``x``).
        reverse: anneal from beta = 1 to 0; the result's ``estimate`` is then the stochastic
            upper bound -log mean(w) of log P(x) (``mean_log_weight`` is -mean log w).
        dtype: dtype of ``x`` and of the model's evaluation.
        progress: show a progress bar over the steps.
        compiled: a :class:`~pyro_vae.estimate.compiled_potential.CompiledPotential` of
            ``model`` and ``guide``, to run the leapfrog steps' potential and gradient with
            ``torch.compile`` (share one among the batches of an evaluation).

    Returns:
        An :class:`AISLikelihood`.

    Example:
        >>> from pyro_vae.models.exact import LinearGaussianVAE
        >>> _ = torch.manual_seed(0)
        >>> vae = LinearGaussianVAE(data_dim=4, latent_dim=2, sigma=0.5)
        >>> x = vae.sample_data(3)
        >>> res = annealed_importance_sampling(
        ...     vae.model, None, x, num_chains=8, num_steps=50, start="prior"
        ... )
        >>> res.estimate.shape, bool(np.all(res.acceptance > 0))
        ((3,), True)
    """
    if num_chains < 1 or leapfrog_steps < 1 or min(num_steps, tuning_chains, warmup_steps) < 0:
        raise ValueError(
            "num_chains and leapfrog_steps must be positive, num_steps, tuning_chains and "
            "warmup_steps >= 0"
        )
    if start not in ("guide", "prior"):
        raise ValueError(f"start must be 'guide' or 'prior', got {start!r}")
    betas = _betas(schedule, num_steps)
    if reverse:
        betas = betas.flip(0)
    check_batched(model, x)
    x = x.to(dtype)
    args = tuple(a.to(dtype) if _floating(a) else a for a in args)
    with default_dtype(dtype):
        target = target_for(model, guide, x, args=args)
        total = num_chains + tuning_chains  # the tuning chains are the last rows
        sites = _start(target, total, start, keys)
        if initial is not None:
            sites = {
                name: (initial[name].to(dtype).expand_as(value).clone(), transform)
                for name, (value, transform) in sites.items()
            }
        state = _State(target, sites, total, start, compiled)
        noise = _Noise(keys, x.device)
        batch = x.shape[0]
        step = torch.full((batch,), step_size, dtype=dtype, device=x.device)
        sums = {"dtype": torch.float64, "device": x.device}  # the accumulators follow the data
        accepted = torch.zeros(num_chains, batch, **sums)
        recent = torch.full((batch,), target_acceptance, **sums)
        log_w = torch.zeros(total, batch, **sums)
        if tuning_chains and num_steps and warmup_steps:
            step = _warm_up(
                state,
                noise,
                step,
                beta=float(betas[0]),
                leapfrog_steps=leapfrog_steps,
                transitions=warmup_steps,
                target_acceptance=target_acceptance,
                tuning=num_chains,
            )
        steps = range(1, betas.shape[0])
        for t in reported(steps, total=len(steps), what="AIS", unit="steps", enabled=progress):
            # log P(x,z) - log q0(z) does not depend on beta: one evaluation serves the weight
            # and the start of the transition
            log_f, log_ratio, grad = state.potential(state.u, float(betas[t]), grad=True)
            log_w += float(betas[t] - betas[t - 1]) * log_ratio.to(torch.float64)
            chain_step = step.expand(total, batch)
            accept, probability = _hmc(
                state, float(betas[t]), chain_step, leapfrog_steps, (log_f, grad), noise
            )
            accepted += accept[:num_chains]
            if tuning_chains:
                tuning = probability[num_chains:].mean(0).to(torch.float64)
                recent = _SLOWNESS * recent + (1.0 - _SLOWNESS) * tuning
                step = torch.where(recent > target_acceptance, step * _GROW, step * _SHRINK)
                step = step.clamp(_MIN_STEP, _MAX_STEP)
        if num_steps == 0:  # importance sampling with the start distribution
            _, log_ratio, _ = state.potential(state.u, 0.0, grad=False)
            log_w = log_ratio.to(torch.float64)
    acceptance = accepted / max(1, num_steps)
    return _result(log_w[:num_chains], acceptance, step, num_steps, start, reverse)


def _warm_up(
    state: _State,
    noise: _Noise,
    step: torch.Tensor,
    *,
    beta: float,
    leapfrog_steps: int,
    transitions: int,
    target_acceptance: float,
    tuning: int,
) -> torch.Tensor:
    """HMC on f_beta for ``transitions`` steps, the chains from row ``tuning`` on adapting."""
    chains, batch = state.chains, step.shape[0]
    for _ in range(transitions):
        log_f, _, grad = state.potential(state.u, beta, grad=True)
        _, probability = _hmc(
            state, beta, step.expand(chains, batch), leapfrog_steps, (log_f, grad), noise
        )
        rate = probability[tuning:].mean(0).to(step.dtype)
        step = torch.where(rate > target_acceptance, step * _WARMUP_GROW, step * _WARMUP_SHRINK)
        step = step.clamp(_MIN_STEP, _MAX_STEP)
    return step


def gradient_evaluations(points: int, options: Mapping[str, Any]) -> int:
    """How many potential-and-gradient evaluations AIS of ``points`` points makes.

    ``options`` are keyword arguments of :func:`annealed_importance_sampling` (its defaults
    for the others): points x (chains + tuning chains) x (steps + warm-up steps) x (leapfrog
    steps + 1).

    Example:
        >>> gradient_evaluations(10, {"num_steps": 100})
        264000
    """
    defaults = inspect.signature(annealed_importance_sampling).parameters
    value = {k: options.get(k, defaults[k].default) for k in _COUNTED}
    chains = value["num_chains"] + value["tuning_chains"]
    warmup = value["warmup_steps"] if value["tuning_chains"] and value["num_steps"] else 0
    return points * chains * (value["num_steps"] + warmup) * (value["leapfrog_steps"] + 1)


_COUNTED = ("num_chains", "tuning_chains", "num_steps", "warmup_steps", "leapfrog_steps")


def _start(target: Target, chains: int, start: Start, keys: Sequence[int] | None) -> dict[str, Any]:
    """The chains' start: one draw for the batch, or one per datapoint from its key."""
    if keys is None:
        return target.latents(chains, start)
    x = target.x
    if len(keys) != x.shape[0]:
        raise ValueError(f"keys must hold one seed per datapoint, got {len(keys)}")
    parts = []
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        for j, key in enumerate(keys):
            torch.manual_seed(int(key))
            rows = tuple(_rows(a, j) for a in target.args)
            one = target_for(target.model, target.guide, x[j : j + 1], args=rows)
            parts.append(one.latents(chains, start))
            target.summed |= one.summed
    return {
        name: (torch.cat([p[name][0] for p in parts], 1), transform)
        for name, (_, transform) in parts[0].items()
    }


def _rows(arg: Any, j: int) -> Any:
    return arg[j : j + 1] if isinstance(arg, torch.Tensor) else arg


def _floating(arg: Any) -> bool:
    return isinstance(arg, torch.Tensor) and arg.is_floating_point()


def _betas(schedule: str | torch.Tensor, num_steps: int) -> torch.Tensor:
    if isinstance(schedule, torch.Tensor):
        betas = schedule.to(torch.float64).cpu()
        ok = (
            betas.dim() == 1 and betas[0] == 0 and betas[-1] == 1 and bool((betas.diff() > 0).all())
        )
        if not ok:
            raise ValueError("a schedule must rise strictly from 0 to 1")
        return betas
    if num_steps == 0:
        return torch.zeros(1, dtype=torch.float64, device="cpu")
    if schedule == "sigmoid":
        return sigmoid_schedule(num_steps)
    if schedule == "linear":
        return linear_schedule(num_steps)
    raise ValueError(f"schedule must be 'sigmoid', 'linear' or a tensor, got {schedule!r}")


def _result(
    log_w: torch.Tensor,
    acceptance: torch.Tensor,
    step: torch.Tensor,
    num_steps: int,
    start: str,
    reverse: bool,
) -> AISLikelihood:
    log_w, acceptance, step = log_w.cpu(), acceptance.cpu(), step.cpu()
    chains = log_w.shape[0]
    lse_w = torch.logsumexp(log_w, 0)
    lse_w2 = torch.logsumexp(2.0 * log_w, 0)
    estimate = lse_w - math.log(chains)
    ess = ess_from_sums(lse_w.numpy(), lse_w2.numpy())
    mean_log_w = log_w.mean(0)
    if reverse:  # the weights estimate 1/P(x): an upper bound of log P(x)
        estimate, mean_log_w = -estimate, -mean_log_w
    return AISLikelihood(
        estimate=estimate.numpy(),
        standard_error=standard_error_from_ess(ess, chains),
        ess=ess,
        khat=pareto_khat(log_w.T.numpy()),
        mean_log_weight=mean_log_w.numpy(),
        num_samples=chains,
        proposal=f"ais-{start}",
        acceptance=acceptance.mean(0).numpy(),
        step_size=step.to(torch.float64).numpy(),
        num_steps=num_steps,
        start=start,
    )
