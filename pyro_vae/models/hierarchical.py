"""Two stochastic layers: P(z2) P(z1|z2) P(X|z1), with the guide Q(z1|X) Q(z2|z1).

The factorization of Burda, Grosse & Salakhutdinov (2015): the data sit below a first latent
layer ``z1`` and a top layer ``z2``; the guide goes bottom-up. As Pyro programs, both have their
sites in the one ``data`` plate (``z2``, ``z1``, ``x`` in the model; ``z1``, ``z2`` in the
guide), so every objective and estimator of the project runs through them unchanged.

The parts: the top prior P(z2) comes from the prior registry (``latent_dim`` is its dimension);
Q(z1|X) from the guide registry and P(X|z1) from the likelihood registry, on the ``network``
bodies; Q(z2|z1) and P(z1|z2) are diagonal Gaussians on MLPs of widths ``upper_hidden_dims``.
A VampPrior on the top layer mixes Q(z2 | E[z1|u_k]) over its pseudo-inputs u_k: the guide's
path from a datapoint to the top layer, through the mean of the first layer.
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pyro_vae.hardware.devices import device_of
from pyro_vae.models.vae import MODELS, VAE
from pyro_vae.parts.contracts import Encoder, Likelihood, Prior, check_part
from pyro_vae.parts.guides import GUIDES, DiagonalGaussianEncoder
from pyro_vae.parts.likelihoods import LIKELIHOODS
from pyro_vae.parts.networks import NetworkSpec
from pyro_vae.parts.priors import PRIORS

__all__ = ["HierarchicalVAE", "hierarchical"]

_MEAN_DRAWS = 256


def _mean(q: dist.Distribution) -> torch.Tensor:
    """A distribution's mean, or the average of draws for one without a closed form (a flow)."""
    try:
        return q.mean
    except NotImplementedError:
        return q.rsample((_MEAN_DRAWS,)).mean(0)


class _TopEncoder(nn.Module):
    """X -> Q(z2 | E[z1|X]): the guide's way from a datapoint to the top layer (for a VampPrior).

    It holds the guide's two encoders without owning them (their weights are the guide's).
    """

    def __init__(self, encoder: nn.Module, upper: nn.Module) -> None:
        super().__init__()
        self.__dict__["_parts"] = (encoder, upper)

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        encoder, upper = self._parts
        return upper(_mean(encoder(x)))


class HierarchicalVAE(VAE):
    """A VAE with two stochastic layers (Burda et al. 2015's factorization).

    Args:
        prior: P(z2) (:class:`~pyro_vae.parts.contracts.Prior`).
        encoder: Q(z1|x) (:class:`~pyro_vae.parts.contracts.Encoder` of the data).
        upper_encoder: Q(z2|z1), an encoder of the first layer.
        conditional: P(z1|z2), an encoder of the top layer (it maps z2 to a distribution of z1).
        likelihood: P(X|z1) (:class:`~pyro_vae.parts.contracts.Likelihood` of the first layer).
        name: the name under which ``pyro.module`` registers the parameters.

    Example:
        >>> vae = hierarchical(prior="standard-normal", guide="diagonal", likelihood="bernoulli",
        ...     data_dim=6, latent_dim=2, lower_latent_dim=3, network=NetworkSpec("mlp", (8,)),
        ...     upper_hidden_dims=(4,))
        >>> trace = pyro.poutine.trace(vae.guide).get_trace(torch.ones(5, 6))
        >>> trace.nodes["z1"]["value"].shape, trace.nodes["z2"]["value"].shape
        (torch.Size([5, 3]), torch.Size([5, 2]))
    """

    latent_sites = ("z2", "z1")
    latent_name = "z2"

    def __init__(
        self,
        prior: Prior,
        encoder: Encoder,
        upper_encoder: Encoder,
        conditional: Encoder,
        likelihood: Likelihood,
        *,
        name: str = "vae",
    ) -> None:
        super().__init__(prior, encoder, likelihood, name=name)
        check_part("encoder", upper_encoder)
        check_part("encoder", conditional)
        self.upper_encoder = upper_encoder
        self.conditional = conditional

    def model(
        self, x: torch.Tensor | None = None, *, batch_size: int | None = None
    ) -> torch.Tensor:
        """The generative model P(z2) P(z1|z2) P(X|z1) for a batch of flat data vectors.

        Args:
            x: observed data ``[B, data_dim]``; ``None`` to sample X instead.
            batch_size: the number of datapoints to generate when ``x`` is ``None``.

        Returns:
            The value of site ``"x"``.
        """
        pyro.module(self.name, self)
        with self.data_plate(x, batch_size):
            z2 = pyro.sample("z2", self.prior())
            z1 = pyro.sample("z1", self.conditional(z2))
            return pyro.sample("x", self.likelihood(z1), obs=x)

    def guide(self, x: torch.Tensor) -> torch.Tensor:
        """The guide Q(z1|X) Q(z2|z1) for a batch ``x`` of shape ``[B, data_dim]``.

        Returns:
            The sampled top layer ``z2``.
        """
        pyro.module(self.name, self)
        with self.data_plate(x):
            z1 = pyro.sample("z1", self.encoder(x))
            return pyro.sample("z2", self.upper_encoder(z1))

    @torch.no_grad()
    def sample(self, num: int) -> torch.Tensor:
        """Draw z2 from the prior and z1 given it; return the mean images E[X|z1], ``[num, D]``."""
        z2 = self.prior().sample((num,))
        return self.likelihood.mean(self.conditional(z2).sample())

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image of top-layer latents: E[X | z1 = E[z1|z2]], for the latent figures."""
        return self.likelihood.mean(_mean(self.conditional(z)))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the first layer's posterior mean: E[X | z1 = E_Q[z1|x]]."""
        return self.likelihood.mean(_mean(self.encoder(x.to(device_of(self)))))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The top layer's posterior means E_Q[z2 | z1 = E_Q[z1|x]], shape ``[B, latent_dim]``.

        The latent figures show this layer (their axes say ``z2``).
        """
        return _mean(self.upper_encoder(_mean(self.encoder(x.to(device_of(self))))))


@MODELS.register(
    "hierarchical",
    "two stochastic layers P(z2) P(z1|z2) P(X|z1), guide Q(z1|X) Q(z2|z1) (Burda et al. 2015); "
    "z2 has --latent-dim, z1 --lower-latent-dim",
)
def hierarchical(
    *,
    prior: str,
    guide: str,
    likelihood: str,
    data_dim: int,
    latent_dim: int,
    lower_latent_dim: int,
    network: NetworkSpec,
    upper_hidden_dims: tuple[int, ...],
    **sizes: Any,
) -> HierarchicalVAE:
    """The model of ``--model hierarchical``, from registered parts and the two layers' sizes.

    Args:
        prior: the top layer's prior, a name in :data:`~pyro_vae.parts.priors.PRIORS`.
        guide: Q(z1|X), a name in :data:`~pyro_vae.parts.guides.GUIDES`.
        likelihood: P(X|z1), a name in :data:`~pyro_vae.parts.likelihoods.LIKELIHOODS`.
        data_dim: width of a datapoint.
        latent_dim: dimension of the top layer z2.
        lower_latent_dim: dimension of the first layer z1.
        network: the bodies of Q(z1|X) and P(X|z1).
        upper_hidden_dims: hidden widths of the MLPs of Q(z2|z1) and P(z1|z2).
        **sizes: what the parts' factories may also take (``components``, ``layers``,
            ``sigma``).
    """
    upper = NetworkSpec("mlp", tuple(upper_hidden_dims), network.activation)
    encoder = GUIDES.build(
        guide, data_dim=data_dim, latent_dim=lower_latent_dim, network=network, **sizes
    )
    upper_encoder = DiagonalGaussianEncoder(
        upper.encoder(lower_latent_dim, 2 * latent_dim), latent_dim
    )
    conditional = DiagonalGaussianEncoder(
        upper.decoder(latent_dim, 2 * lower_latent_dim), lower_latent_dim
    )
    return HierarchicalVAE(
        prior=PRIORS.build(
            prior,
            encoder=_TopEncoder(encoder, upper_encoder),
            data_dim=data_dim,
            latent_dim=latent_dim,
            **sizes,
        ),
        encoder=encoder,
        upper_encoder=upper_encoder,
        conditional=conditional,
        likelihood=LIKELIHOODS.build(
            likelihood, data_dim=data_dim, latent_dim=lower_latent_dim, network=network, **sizes
        ),
    )
