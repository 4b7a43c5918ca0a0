"""The densities that AIS anneals between: log P(x, z) and the start q0(z), at given latents.

:class:`Target` evaluates them for any Pyro model and guide of the project's site convention by
tracing the programs with the latents conditioned; discrete sites marked for enumeration are
summed out of both densities (:mod:`pyro_vae.estimate.enumeration`), so the chains move the
continuous sites only. :class:`VAETarget` computes the same numbers for a
:class:`pyro_vae.VAE`'s own programs from its parts, without tracing. :func:`target_for` picks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pyro
import torch
from pyro import poutine
from pyro.distributions.util import sum_rightmost
from pyro.poutine.util import site_is_subsample
from torch.distributions import biject_to, constraints
from torch.distributions.mixture_same_family import MixtureSameFamilyConstraint
from torch.distributions.transforms import Transform

from pyro_vae.estimate.enumeration import (
    contract_sites,
    enumerated,
    has_enumerated_sites,
    is_discrete,
    is_enumerated,
    prepare,
)
from pyro_vae.estimate.importance import DATA_PLATE
from pyro_vae.models.vae import VAE

__all__ = [
    "CHAIN_PLATE",
    "Start",
    "Target",
    "VAETarget",
    "in_data_plate",
    "target_for",
    "tempered",
    "to_unconstrained",
    "with_chains",
]

Start = Literal["guide", "prior"]
CHAIN_PLATE = "_pyro_vae_chains"


def to_unconstrained(support: constraints.Constraint) -> Transform:
    """The transform from unconstrained space onto ``support``: ``biject_to`` for every support.

    torch registers no transform for the support of a ``MixtureSameFamily`` (the mixture prior,
    the VampPrior); its values are those of its components, so theirs is used.

    Example:
        >>> import torch.distributions as D
        >>> mix = D.MixtureSameFamily(D.Categorical(torch.ones(2)), D.Normal(torch.zeros(2), 1.0))
        >>> to_unconstrained(mix.support)(torch.tensor([0.5]))
        tensor([0.5000])
        >>> to_unconstrained(constraints.positive)(torch.zeros(1))
        tensor([1.])
    """
    while isinstance(support, MixtureSameFamilyConstraint):
        support = support.base_constraint
    return biject_to(support)


class Target:
    """log P(x, z) and log q0(z) of the chains, as functions of the unconstrained latents.

    Discrete latent sites are summed out of both densities by enumeration: a discrete site
    that the model or the guide marks ``infer={"enumerate": "parallel"}`` is enumerated in
    both programs (the chains move the continuous sites only), and an unmarked one is refused.
    """

    def __init__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any] | None,
        x: torch.Tensor,
        *,
        args: Sequence[Any] = (),
    ) -> None:
        self.model, self.guide, self.x, self.args = model, guide, x, tuple(args)
        self.summed: set[str] = set()  # discrete sites enumerated in both programs

    def latents(self, num_chains: int, start: Start) -> dict[str, Any]:
        """Draw the start: the continuous latent sites, their values and their transforms."""
        program = self.guide if start == "guide" else self.model
        if program is None:
            raise ValueError("start='guide' needs a guide")
        if start == "prior" and self.guide is not None:  # a site the guide marks is summed
            self.summed |= self._marked(self.guide, num_chains)
        trace = poutine.trace(with_chains(program, num_chains, self.x.device)).get_trace(
            self.x, *self.args
        )
        sites = {}
        for name, site in trace.nodes.items():
            if site["type"] == "sample" and not site["is_observed"] and in_data_plate(site):
                if not is_discrete(site):
                    sites[name] = (site["value"].detach(), to_unconstrained(site["fn"].support))
                elif site["infer"].get("enumerate") == "parallel" or name in self.summed:
                    self.summed.add(name)
                else:
                    raise ValueError(_DISCRETE.format(name=name))
        if not sites:
            raise ValueError("the program samples no continuous latent site inside the data plate")
        return sites

    def _marked(self, program: Callable[..., Any], num: int) -> set[str]:
        """The discrete sites that ``program`` marks for enumeration."""
        trace = poutine.trace(with_chains(program, num, self.x.device)).get_trace(
            self.x, *self.args
        )
        return {
            name
            for name, site in trace.nodes.items()
            if site["type"] == "sample"
            and is_discrete(site)
            and site["infer"].get("enumerate") == "parallel"
        }

    def _trace(self, program: Callable[..., Any], zs: Mapping[str, torch.Tensor], num: int) -> Any:
        summed = self.summed

        def mark(msg: Any) -> dict[str, Any]:
            return {"enumerate": "parallel"} if msg["name"] in summed else {}

        conditioned = poutine.condition(
            with_chains(poutine.infer_config(program, mark), num, self.x.device), data=dict(zs)
        )
        trace = poutine.trace(enumerated(conditioned)).get_trace(self.x, *self.args)
        for name, site in trace.nodes.items():
            if (
                site["type"] == "sample"
                and in_data_plate(site)
                and is_discrete(site)
                and not site["is_observed"]
                and not is_enumerated(site)
            ):
                raise ValueError(_DISCRETE.format(name=name))
        return trace

    def _densities(
        self, trace: Any, latent: Callable[[str, Any], bool] | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The log-density of all data-plate sites of ``trace``, and of those ``latent`` picks."""
        names = [
            name
            for name, site in trace.nodes.items()
            if site["type"] == "sample" and in_data_plate(site)
        ]
        if not has_enumerated_sites(trace):
            trace.compute_log_prob()
            total = part = 0.0
            for name in names:
                total = total + trace.nodes[name]["log_prob"]
                if latent is not None and latent(name, trace.nodes[name]):
                    part = part + trace.nodes[name]["log_prob"]
            return total, (part if latent is not None else None)
        prepare([trace])
        total = contract_sites([(trace, n, 1.0) for n in names], [trace])
        if latent is None:
            return total, None
        picked = [(trace, n, 1.0) for n in names if latent(n, trace.nodes[n])]
        return total, contract_sites(picked, [trace])

    def evaluate(
        self, zs: Mapping[str, torch.Tensor], num_chains: int, start: Start
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log P(x, z) and log q0(z), each ``[chains, B]``, at the constrained values ``zs``."""
        trace = self._trace(self.model, zs, num_chains)
        if start == "prior":
            # the latents are conditioned, so marked observed: go by name
            return self._densities(trace, lambda name, site: name in zs or is_enumerated(site))
        log_joint, _ = self._densities(trace, None)
        log_q, _ = self._densities(self._trace(self.guide, zs, num_chains), None)
        return log_joint, log_q


_DISCRETE = (
    "site {name!r} is discrete and AIS moves continuous latents only: mark it "
    "infer={{'enumerate': 'parallel'}} (or use pyro.infer.config_enumerate) so that it is "
    "summed out"
)


class VAETarget(Target):
    """The same densities for a :class:`pyro_vae.VAE`, read from its parts without Pyro traces.

    A leapfrog step then costs one prior and one likelihood evaluation (a decoder forward and
    backward) on the batch of chains; the guide's Q(z|x) depends on x only, so the encoder runs
    once. Tracing the programs at every step would add Pyro's bookkeeping (the messenger stack,
    registering every parameter) to every one of the thousands of steps; the generic path does
    exactly what this one computes, which ``tests/estimate/test_ais.py`` checks.
    """

    def __init__(self, vae: VAE, guide: Callable[..., Any] | None, x: torch.Tensor) -> None:
        super().__init__(vae.model, guide, x)
        self.vae = vae
        self._q: Any = None

    def q(self) -> Any:
        """Q(z|x) of the batch, encoded once."""
        if self._q is None:
            with torch.no_grad():
                self._q = self.vae.encoder(self.x)
        return self._q

    def latents(self, num_chains: int, start: Start) -> dict[str, Any]:
        """Draw the start z from Q(z|x) or P(z), with the prior's support transform."""
        if start == "guide" and self.guide is None:
            raise ValueError("start='guide' needs a guide")
        with torch.no_grad():
            if start == "guide":
                z = self.q().sample((num_chains,))
            else:
                z = self.vae.prior().sample((num_chains, self.x.shape[0]))
        return {"z": (z, to_unconstrained(self.vae.prior().support))}

    def evaluate(
        self, zs: Mapping[str, torch.Tensor], num_chains: int, start: Start
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log P(x, z) and log q0(z) from the prior, the likelihood and the encoder."""
        z = zs["z"]
        log_prior = self.vae.prior().log_prob(z)
        log_joint = log_prior + self.vae.likelihood(z).log_prob(self.x)
        return log_joint, log_prior if start == "prior" else self.q().log_prob(z)


def target_for(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    *,
    args: Sequence[Any] = (),
) -> Target:
    """The fast target for a VAE's own model and guide, the generic one for anything else."""
    vae = getattr(model, "__self__", None)
    own_guide = guide is None or (
        getattr(guide, "__self__", None) is vae and getattr(guide, "__func__", None) is VAE.guide
    )
    own_model = isinstance(vae, VAE) and getattr(model, "__func__", None) is VAE.model
    if own_model and own_guide and not args:
        return VAETarget(vae, guide, x)
    return Target(model, guide, x, args=args)


def tempered(
    target: Target,
    transforms: Mapping[str, Any],
    u: Mapping[str, torch.Tensor],
    *,
    chains: int,
    start: Start,
    beta: float | torch.Tensor,
    rest: float | torch.Tensor,
    grad: bool,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Log f_beta(u) [C, B], log P(x,z) - log q0(z) [C, B], and the gradient of log f.

    f_beta = q0^rest P(x, z)^beta (``rest`` is 1 - beta: given apart so that a compiled
    graph, which takes both as inputs, multiplies by the very numbers the uncompiled step
    does), at the unconstrained latents ``u``, whose constrained values are
    ``transforms[name](u[name])``; the Jacobian of the transforms is included.

    Example:
        >>> from pyro_vae.models.exact import LinearGaussianVAE
        >>> vae = LinearGaussianVAE(data_dim=4, latent_dim=2)
        >>> target = target_for(vae.model, None, torch.zeros(3, 4))
        >>> u = {"z": torch.zeros(5, 3, 2)}
        >>> log_f, _, g = tempered(target, {"z": biject_to(vae.prior().support)}, u, chains=5,
        ...                        start="prior", beta=0.5, rest=0.5, grad=True)
        >>> log_f.shape, g["z"].shape
        (torch.Size([5, 3]), torch.Size([5, 3, 2]))
    """
    leaves = {k: v.detach().requires_grad_(grad) for k, v in u.items()}
    with torch.set_grad_enabled(grad):
        zs, ladj = {}, 0.0
        for name, value in leaves.items():
            transform = transforms[name]
            zs[name] = transform(value)
            jac = transform.log_abs_det_jacobian(value, zs[name])
            ladj = ladj + sum_rightmost(jac, jac.dim() - 2)
        log_joint, log_q = target.evaluate(zs, chains, start)
        log_f = rest * log_q + beta * log_joint + ladj
        gradient = {}
        if grad:
            values = torch.autograd.grad(log_f.sum(), list(leaves.values()))
            gradient = dict(zip(leaves, values, strict=True))
    return log_f.detach(), (log_joint - log_q).detach(), gradient


def in_data_plate(site: Mapping[str, Any]) -> bool:
    """Whether a sample site sits inside the project's data plate (and is not a plate itself).

    Example:
        >>> from pyro_vae.models.exact import LinearGaussianVAE
        >>> vae = LinearGaussianVAE(data_dim=3, latent_dim=2)
        >>> trace = poutine.trace(vae.model).get_trace(torch.zeros(4, 3))
        >>> [name for name, site in trace.nodes.items() if site["type"] == "sample"
        ...  and in_data_plate(site)]
        ['z', 'x']
    """
    if site_is_subsample(site):
        return False
    return any(frame.name == DATA_PLATE for frame in site["cond_indep_stack"])


def with_chains(fn: Callable[..., Any], num: int, device: torch.device) -> Callable[..., Any]:
    """``fn`` run inside a plate of ``num`` chains at dim -2, left of the data plate."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with pyro.plate(CHAIN_PLATE, num, dim=-2, device=device):
            return fn(*args, **kwargs)

    return wrapped
