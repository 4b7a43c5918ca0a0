"""The linear-Gaussian VAE: a latent variable model whose log P(X) and posterior are exact.

With P(z) = N(0, I_d) and P(X|z) = N(Wz + b, sigma^2 I_D) (probabilistic PCA), integrating z out
gives the marginal

    P(X) = N(X; b, W W^T + sigma^2 I_D),

and the posterior is Gaussian too:

    P(z|X) = N(M^-1 W^T (X - b), sigma^2 M^-1),    M = W^T W + sigma^2 I_d.

:class:`LinearGaussianVAE` is an ordinary :class:`pyro_vae.VAE` (its ``model`` and ``guide`` are
trained and evaluated by the same code as any other) that also knows these answers. It is the
reference against which the estimators of :mod:`pyro_vae.estimate.importance` are checked, and the
place to see naive Monte Carlo fail as the latent dimension grows.
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pyro_vae.models.vae import MODELS, VAE
from pyro_vae.parts.guides import GUIDES, DiagonalGaussianEncoder
from pyro_vae.parts.likelihoods import GaussianLikelihood
from pyro_vae.parts.networks import MLP, NetworkSpec
from pyro_vae.parts.priors import StandardNormalPrior

__all__ = ["LinearGaussianVAE", "linear_gaussian"]


class LinearGaussianVAE(VAE):
    """P(z) = N(0, I_d), P(X|z) = N(Wz + b, sigma^2 I_D), with a closed-form log P(X).

    Args:
        data_dim: D, the width of a datapoint.
        latent_dim: d, the dimension of z.
        sigma: the observation noise standard deviation (fixed).
        encoder: the amortized guide Q(z|X); by default a diagonal Gaussian whose mean and raw
            scale are linear in x (the exact posterior has a linear mean but, in general, a full
            covariance, so this guide is close but not exact).
        name: the name under which ``pyro.module`` registers the parameters.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> vae = LinearGaussianVAE(data_dim=5, latent_dim=2, sigma=0.5)
        >>> x = vae.sample_data(3)
        >>> vae.exact_log_likelihood(x).shape
        torch.Size([3])
        >>> vae.posterior(x).event_shape
        torch.Size([2])
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        sigma: float = 1.0,
        *,
        encoder: nn.Module | None = None,
        name: str = "vae",
    ) -> None:
        if encoder is None:
            encoder = DiagonalGaussianEncoder(MLP(data_dim, (), 2 * latent_dim), latent_dim)
        super().__init__(
            prior=StandardNormalPrior(latent_dim),
            encoder=encoder,
            likelihood=GaussianLikelihood(nn.Linear(latent_dim, data_dim), sigma),
            name=name,
        )
        self.data_dim = data_dim
        self.latent_dim = latent_dim

    @property
    def weight(self) -> torch.Tensor:
        """W, shape ``[data_dim, latent_dim]``."""
        return self.likelihood.decoder.weight

    @property
    def bias(self) -> torch.Tensor:
        """b, shape ``[data_dim]``."""
        return self.likelihood.decoder.bias

    @property
    def sigma(self) -> float:
        """The observation noise standard deviation."""
        return self.likelihood.sigma

    def marginal(self) -> dist.LowRankMultivariateNormal:
        """P(X) = N(b, W W^T + sigma^2 I), in low-rank form (Woodbury: cost linear in D)."""
        cov_diag = torch.full_like(self.bias, self.sigma**2)
        return dist.LowRankMultivariateNormal(self.bias, self.weight, cov_diag)

    @torch.no_grad()
    def exact_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """The closed-form log P(x) of each row of ``x`` (``[B, data_dim]``), shape ``[B]``."""
        return self.marginal().log_prob(x.to(self.bias.dtype))

    def posterior(self, x: torch.Tensor) -> dist.MultivariateNormal:
        """The exact posterior P(z|x), batch shape ``[B]`` and event shape ``[latent_dim]``."""
        w = self.weight
        precision = w.T @ w / self.sigma**2 + torch.eye(self.latent_dim, dtype=w.dtype)
        chol = torch.linalg.cholesky(precision)
        rhs = ((x.to(w.dtype) - self.bias) @ w / self.sigma**2).unsqueeze(-1)
        loc = torch.cholesky_solve(rhs, chol).squeeze(-1)
        return dist.MultivariateNormal(loc, precision_matrix=precision)

    def exact_guide(self, x: torch.Tensor) -> torch.Tensor:
        """A Pyro guide that samples ``"z"`` from the exact posterior: a perfect proposal.

        With it every importance weight equals P(x), so the estimate is exact for any K.
        """
        pyro.module(self.name, self)
        with pyro.plate("data", x.shape[0], device=x.device):
            return pyro.sample("z", self.posterior(x))

    @torch.no_grad()
    def sample_data(self, num: int) -> torch.Tensor:
        """Draw ``num`` datapoints X ~ P(X) (with noise, unlike :meth:`VAE.sample`)."""
        return self.marginal().sample((num,))


@MODELS.register(
    "linear-gaussian",
    "N(0, I) prior, P(X|z) = N(Wz + b, sigma^2 I): exact log P(X) (PPCA)",
    parts={"likelihood": "gaussian", "prior": "standard-normal"},
)
def linear_gaussian(
    *, data_dim: int, latent_dim: int, sigma: float, guide: str, network: NetworkSpec, **sizes: Any
) -> LinearGaussianVAE:
    """The model of ``--model linear-gaussian``: its guide is the registered one named ``guide``.

    Example:
        >>> vae = linear_gaussian(
        ...     data_dim=4, latent_dim=2, sigma=1.0, guide="diagonal", network=NetworkSpec()
        ... )
        >>> vae.weight.shape
        torch.Size([4, 2])
    """
    encoder = GUIDES.build(
        guide, data_dim=data_dim, latent_dim=latent_dim, network=network, **sizes
    )
    return LinearGaussianVAE(data_dim, latent_dim, sigma, encoder=encoder)
