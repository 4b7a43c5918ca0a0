"""The conditional VAE (Sohn, Lee & Yan 2015; Doersch 2016, section 4): P(Y|X) through z.

The model is P(z|X) P(Y|X, z): a prior network from the condition X to a distribution over z
(or an unconditional registered prior), and a registered likelihood whose decoder reads
``[z, X]``. The guide Q(z|X, Y) is a registered guide family whose encoder reads ``[Y, X]``.
Its log-likelihood is the conditional one, log P(Y|X) = log integral P(z|X) P(Y|X, z) dz, and
every estimator of :mod:`pyro_vae.estimate` computes it from these two programs: importance
sampling with Q(z|X, Y), naive Monte Carlo from P(z|X) (``proposal="prior"``), AIS and BDMC.

With ``baseline=True`` the prior network reads, beside X, the prediction E[Y|X] of a
deterministic :class:`~pyro_vae.models.baseline.Baseline` (the tutorial's image with the
missing quadrants filled in); training fits the baseline first and keeps it fixed
(:mod:`pyro_vae.running.baseline`), and evaluation reports its exact log P(Y|X) beside the
CVAE's estimates.

The programs take the target and the condition, ``model(y, x)`` and ``guide(y, x)``, as the
estimators' ``args`` pass them. The rows of a run's data carry both, ``[Y, X]``
(:mod:`pyro_vae.data.conditions`); called with one tensor, the programs split it. The sites
follow the project's convention: ``"z"`` latent, ``"x"`` observed (here the target Y).

Example:
    >>> import torch
    >>> from pyro.infer import Trace_ELBO
    >>> cvae = build_cvae(target_dim=12, condition_dim=4, latent_dim=2, hidden_dims=(8,))
    >>> y, x = torch.bernoulli(torch.full((5, 12), 0.5)), torch.rand(5, 4)
    >>> loss = Trace_ELBO().loss(cvae.model, cvae.guide, y, x)
    >>> cvae.complete(x, num=3).shape  # three draws of E[Y|X, z] per condition
    torch.Size([3, 5, 12])
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pyro_vae.errors import InputError, setting
from pyro_vae.hardware.devices import device_of
from pyro_vae.models.baseline import Baseline, build_baseline
from pyro_vae.models.vae import MODELS, VAE
from pyro_vae.parts.contracts import Encoder, Likelihood, Prior
from pyro_vae.parts.guides import GUIDES
from pyro_vae.parts.likelihoods import LIKELIHOODS
from pyro_vae.parts.networks import NetworkSpec
from pyro_vae.parts.priors import PRIORS

__all__ = ["ConditionalPrior", "ConditionalVAE", "build_cvae", "cvae", "joined"]


def joined(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """``[first, second]`` along the last dimension, their leading dimensions broadcast.

    The estimators draw z with a particle dimension in front (``[K, B, d]``) while the
    condition has none (``[B, c]``).

    Example:
        >>> joined(torch.zeros(3, 2, 4), torch.ones(2, 1)).shape
        torch.Size([3, 2, 5])
    """
    shape = torch.broadcast_shapes(first.shape[:-1], second.shape[:-1])
    return torch.cat([first.expand(*shape, -1), second.expand(*shape, -1)], -1)


class ConditionalPrior(nn.Module):
    """P(z|X): a prior network (an encoder of the condition), or a prior that ignores X.

    Args:
        network: an :class:`~pyro_vae.parts.contracts.Encoder` of the condition, e.g. a
            registered guide family built on ``condition_dim`` inputs; ``None`` for ``prior``.
        prior: an unconditional :class:`~pyro_vae.parts.contracts.Prior`, used when
            ``network`` is ``None``.
        baseline: a :class:`~pyro_vae.models.baseline.Baseline` whose prediction E[Y|X] the
            network reads after X (its inputs are then ``condition_dim + target_dim`` wide);
            no gradient reaches the baseline through it.

    Example:
        >>> from pyro_vae.parts.priors import StandardNormalPrior
        >>> ConditionalPrior(prior=StandardNormalPrior(3))(torch.zeros(4, 2)).batch_shape
        torch.Size([4])
    """

    def __init__(
        self,
        network: Encoder | None = None,
        prior: Prior | None = None,
        baseline: Baseline | None = None,
    ) -> None:
        super().__init__()
        if (network is None) == (prior is None):
            raise ValueError("give a prior network or an unconditional prior, not both")
        if baseline is not None and network is None:
            raise ValueError("a baseline feeds a prior network: give one")
        self.network, self.unconditional, self.baseline = network, prior, baseline

    @property
    def conditional(self) -> bool:
        """Whether P(z|X) depends on X."""
        return self.network is not None

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        """P(z|x) for conditions ``x`` of shape ``[..., condition_dim]``."""
        if self.network is not None:
            if self.baseline is not None:  # Baseline.predict: no gradient flows back
                x = joined(x, self.baseline.predict(x))
            return self.network(x)
        assert self.unconditional is not None
        return self.unconditional().expand(x.shape[:-1])


class ConditionalVAE(VAE):
    """The CVAE: P(z|X) P(Y|X, z) with the guide Q(z|X, Y).

    Args:
        prior: P(z|X), a :class:`ConditionalPrior`.
        encoder: Q(z|X, Y), an encoder of ``target_dim + condition_dim`` inputs (Y first).
        likelihood: P(Y|X, z), a likelihood of ``latent_dim + condition_dim`` inputs (z first)
            over ``target_dim`` values.
        target_dim: the width of Y.
        condition_dim: the width of X.
        name: the name under which ``pyro.module`` registers the parameters.
    """

    def __init__(
        self,
        prior: ConditionalPrior,
        encoder: Encoder,
        likelihood: Likelihood,
        *,
        target_dim: int,
        condition_dim: int,
        name: str = "cvae",
    ) -> None:
        super().__init__(prior, encoder, likelihood, name=name)
        self.target_dim, self.condition_dim = target_dim, condition_dim

    @property
    def baseline(self) -> Baseline | None:
        """The deterministic baseline the prior network reads, if it has one."""
        return self.prior.baseline

    def split(
        self, y: torch.Tensor | None, x: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The target and the condition of a call: as given, or cut from rows ``[Y, X]``."""
        if x is None:
            if y is None or y.shape[-1] != self.target_dim + self.condition_dim:
                width = "nothing" if y is None else f"{y.shape[-1]} values"
                raise ValueError(
                    f"the CVAE needs the condition: pass (y, x), or rows [Y, X] of "
                    f"{self.target_dim} + {self.condition_dim} values (got {width})"
                )
            return y[..., : self.target_dim], y[..., self.target_dim :]
        return y, x

    def model(
        self, y: torch.Tensor | None = None, x: torch.Tensor | None = None, **_: object
    ) -> torch.Tensor:
        """P(z|X) P(Y|X, z) for targets ``y`` ``[B, target_dim]`` (``None``: sample them).

        Args:
            y: the targets, or rows ``[Y, X]`` when ``x`` is ``None``.
            x: the conditions ``[B, condition_dim]``.

        Returns:
            The value of site ``"x"``: the targets, or a sample of them.
        """
        pyro.module(self.name, self)
        y, x = self.split(y, x)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", self.prior(x))
            return pyro.sample("x", self.likelihood(joined(z, x)), obs=y)

    def guide(self, y: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Q(z|X, Y) for targets ``y`` and conditions ``x`` (or rows ``[Y, X]``); returns z."""
        pyro.module(self.name, self)
        target, x = self.split(y, x)
        assert target is not None
        with pyro.plate("data", x.shape[0], device=x.device):
            return pyro.sample("z", self.encoder(joined(target, x)))

    def init_from_data(self, x: torch.Tensor) -> bool:
        """Start the likelihood at the marginals of the training targets (rows ``[Y, X]``)."""
        return super().init_from_data(x[..., : self.target_dim])

    @torch.no_grad()
    def complete(self, x: torch.Tensor, num: int = 1) -> torch.Tensor:
        """``num`` draws of E[Y|X, z] with z ~ P(z|X) per condition: ``[num, B, target_dim]``."""
        x = x.to(device_of(self))
        z = self.prior(x).sample((num,))
        return self.likelihood.mean(joined(z, x))

    @torch.no_grad()
    def sample(self, num: int) -> torch.Tensor:
        """Not defined without conditions: use :meth:`complete`."""
        raise InputError(
            f"{setting('model', 'cvae')} draws Y given a condition X: use its completions "
            "figure, or cvae.complete(x) in Python"
        )

    @torch.no_grad()
    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """E[Y|X, z]; the condition ``x`` is needed."""
        if x is None:
            raise InputError(
                f"{setting('model', 'cvae')} decodes a latent together with a condition: draw "
                "its completions or curves figures"
            )
        return self.likelihood.mean(joined(z, x.to(z.device)))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """E[Y|X, z] at the mean of Q(z|X, Y), for rows ``[Y, X]``: ``[B, target_dim]``."""
        _, condition = self.split(x, None)
        return self.decode(self.encode(x), condition)


def build_cvae(
    *,
    target_dim: int,
    condition_dim: int,
    latent_dim: int,
    prior_network: str = "diagonal",
    prior: str = "standard-normal",
    guide: str = "diagonal",
    likelihood: str = "bernoulli",
    hidden_dims: tuple[int, ...] = (500,),
    activation: str = "relu",
    baseline: bool = False,
    **sizes: object,
) -> ConditionalVAE:
    """A CVAE of registered parts (multilayer perceptrons; the condition is an extra input).

    Args:
        target_dim: the width of Y.
        condition_dim: the width of X.
        latent_dim: the width of z.
        prior_network: the family of P(z|X), a name of :data:`~pyro_vae.parts.guides.GUIDES`
            (every amortized family can serve: a network from X to a distribution over z), or
            ``"none"`` for the unconditional ``prior``.
        prior: an unconditional prior of :data:`~pyro_vae.parts.priors.PRIORS` (``vamp``
            excepted: its pseudo-inputs are data, not conditions).
        guide: the family of Q(z|X, Y).
        likelihood: P(Y|X, z).
        hidden_dims: hidden widths of every network.
        activation: their activation.
        baseline: feed the prior network a :class:`~pyro_vae.models.baseline.Baseline`'s
            prediction of Y beside X (the same likelihood family and networks).
        **sizes: the parts' further keyword arguments (``sigma``, ``layers``, ``components``).

    Example:
        >>> cvae = build_cvae(target_dim=4, condition_dim=2, latent_dim=3, hidden_dims=(8,))
        >>> cvae.prior.conditional
        True
    """
    network = NetworkSpec("mlp", tuple(hidden_dims), activation)
    if baseline and prior_network == "none":
        raise InputError(
            f"the baseline feeds the prior network, and {setting('prior_network', 'none')} "
            f"has none: pass {setting('prior_network', 'diagonal')} or no baseline"
        )
    if prior_network != "none":
        guess = (
            build_baseline(
                target_dim=target_dim,
                condition_dim=condition_dim,
                likelihood=likelihood,
                hidden_dims=hidden_dims,
                activation=activation,
                **sizes,
            )
            if baseline
            else None
        )
        p_z = ConditionalPrior(
            network=GUIDES.build(
                prior_network,
                data_dim=condition_dim + (target_dim if baseline else 0),
                latent_dim=latent_dim,
                network=network,
                **sizes,
            ),
            baseline=guess,
        )
    elif prior == "vamp":
        raise InputError(
            f"{setting('prior', 'vamp')} places its components at data, not at conditions: "
            f"use a prior network ({setting('prior_network', 'diagonal')}) or another prior"
        )
    else:
        p_z = ConditionalPrior(prior=PRIORS.build(prior, latent_dim=latent_dim, **sizes))
    encoder = GUIDES.build(
        guide,
        data_dim=target_dim + condition_dim,
        latent_dim=latent_dim,
        network=network,
        **sizes,
    )
    decoder = LIKELIHOODS.build(
        likelihood,
        latent_dim=latent_dim + condition_dim,
        data_dim=target_dim,
        network=network,
        **sizes,
    )
    return ConditionalVAE(p_z, encoder, decoder, target_dim=target_dim, condition_dim=condition_dim)


@MODELS.register(
    "cvae",
    "the conditional VAE of Sohn et al. 2015: P(Y|X) of a target given a condition "
    "(--condition), with a prior network P(z|X) (--prior-network)",
)
def cvae(
    *,
    prior: str,
    guide: str,
    likelihood: str,
    data_dim: int,
    latent_dim: int,
    network: NetworkSpec,
    condition_dim: int | None = None,
    prior_network: str = "diagonal",
    baseline_epochs: int = 0,
    **sizes: object,
) -> ConditionalVAE:
    """The model of ``--model cvae`` for rows ``[Y, X]`` of ``data_dim`` values.

    With ``baseline_epochs`` > 0 the prior network reads a baseline's prediction (the epochs
    are those :func:`pyro_vae.running.baseline.fit_baseline` trains it for).

    Example:
        >>> model = cvae(prior="standard-normal", guide="diagonal", likelihood="bernoulli",
        ...              data_dim=10, latent_dim=2, network=NetworkSpec("mlp", (4,)),
        ...              condition_dim=3)
        >>> model.target_dim, model.condition_dim
        (7, 3)
    """
    if not condition_dim or condition_dim >= data_dim:
        raise InputError(
            f"{setting('model', 'cvae')} needs a condition beside each target: pass e.g. "
            f"{setting('condition', 'quadrants:2')}"
        )
    sizes = {k: v for k, v in sizes.items() if k not in ("num_classes",)}
    return build_cvae(
        target_dim=data_dim - condition_dim,
        condition_dim=condition_dim,
        latent_dim=latent_dim,
        prior_network=prior_network,
        prior=prior,
        guide=guide,
        likelihood=likelihood,
        hidden_dims=network.hidden_dims,
        activation=network.activation,
        baseline=baseline_epochs > 0,
        **sizes,
    )
