"""Latent variable models whose log P(X) and posterior are exact: linear-Gaussian, and mixtures.

With P(z) = N(0, I_d) and P(X|z) = N(Wz + b, sigma^2 I_D) (probabilistic PCA), integrating z out
gives the marginal

    P(X) = N(X; b, W W^T + sigma^2 I_D),

and the posterior is Gaussian too:

    P(z|X) = N(M^-1 W^T (X - b), sigma^2 M^-1),    M = W^T W + sigma^2 I_d.

:class:`LinearGaussianVAE` is an ordinary :class:`pyro_vae.VAE` (its ``model`` and ``guide`` are
trained and evaluated by the same code as any other) that also knows these answers. It is the
reference against which the estimators of :mod:`pyro_vae.estimate.importance` are checked, and the
place to see naive Monte Carlo fail as the latent dimension grows.

:class:`MixtureLinearGaussian` adds a discrete latent: a class y ~ Categorical(pi) chooses one
of C linear-Gaussian models, P(X|y, z) = N(W_y z + b_y, sigma^2 I). Then
P(X) = sum_y pi_y N(X; b_y, W_y W_y^T + sigma^2 I) is exact again, and so are P(y|X) and
P(z|X, y). It checks the estimators on programs that sum a discrete site out (the model marks y
for enumeration) or draw it from a guide.

:class:`ConditionalLinearGaussian` is the conditional case (a CVAE's program with a linear prior
network): P(z|X) = N(A X + a, I), P(Y|X, z) = N(W z + B X + b, sigma^2 I). Then
P(Y|X) = N(W (A X + a) + B X + b, W W^T + sigma^2 I) and P(z|X, Y) are exact.
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

__all__ = [
    "ConditionalLinearGaussian",
    "LinearGaussianVAE",
    "MixtureLinearGaussian",
    "linear_gaussian",
]


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


class MixtureLinearGaussian(nn.Module):
    """y ~ Categorical(pi), z ~ N(0, I_d), X|y,z ~ N(W_y z + b_y, sigma^2 I_D): exact log P(X).

    The parameters are drawn at random (seeded by torch's generator) and are not trained: the
    model is a reference for the estimators. ``model`` marks y for parallel enumeration, so an
    estimator sums it out wherever a guide does not draw it.

    Args:
        data_dim: D.
        latent_dim: d.
        num_classes: C.
        sigma: the observation noise standard deviation.
        spread: the scale of the class offsets b_y (larger: classes easier to tell apart).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> mix = MixtureLinearGaussian(data_dim=4, latent_dim=2, num_classes=3)
        >>> x = mix.sample_data(5)
        >>> mix.exact_log_likelihood(x).shape, mix.posterior_class(x).probs.shape
        (torch.Size([5]), torch.Size([5, 3]))
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        num_classes: int,
        *,
        sigma: float = 0.5,
        spread: float = 2.0,
    ) -> None:
        super().__init__()
        self.data_dim, self.latent_dim, self.num_classes = data_dim, latent_dim, num_classes
        self.sigma = sigma
        self.register_buffer("logits", torch.randn(num_classes).log_softmax(0))
        self.register_buffer(
            "weight", torch.randn(num_classes, data_dim, latent_dim) / latent_dim**0.5
        )
        self.register_buffer("bias", spread * torch.randn(num_classes, data_dim))

    def class_marginals(self) -> dist.LowRankMultivariateNormal:
        """P(X|y) = N(b_y, W_y W_y^T + sigma^2 I) for every class, batch shape ``[C]``."""
        cov_diag = torch.full_like(self.bias, self.sigma**2)
        return dist.LowRankMultivariateNormal(self.bias, self.weight, cov_diag)

    def _joint_class(self, x: torch.Tensor) -> torch.Tensor:
        """Log P(X, y) ``[B, C]``."""
        x = x.to(self.bias.dtype)
        return self.logits.log_softmax(-1) + self.class_marginals().log_prob(x.unsqueeze(-2))

    @torch.no_grad()
    def exact_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """The closed-form log P(x) of each row of ``x``, shape ``[B]``."""
        return self._joint_class(x).logsumexp(-1)

    def posterior_class(self, x: torch.Tensor) -> dist.Categorical:
        """P(y|x), batch shape ``[B]``."""
        return dist.Categorical(logits=self._joint_class(x))

    def posterior(self, x: torch.Tensor, y: torch.Tensor) -> dist.MultivariateNormal:
        """P(z|x, y) for classes ``y`` broadcast against the rows of ``x``.

        ``y`` may be ``[B]``, drawn ``[K, B]`` or enumerated ``[C, 1, 1]``; the batch shape is
        that of ``y`` broadcast with ``[B]``.
        """
        w, b = self.weight[y], self.bias[y]  # [..., D, d], [..., D]
        eye = torch.eye(self.latent_dim, dtype=w.dtype, device=w.device)
        precision = w.transpose(-1, -2) @ w / self.sigma**2 + eye
        residual = x.to(w.dtype) - b
        rhs = (residual.unsqueeze(-2) @ w).transpose(-1, -2) / self.sigma**2
        loc = torch.cholesky_solve(rhs, torch.linalg.cholesky(precision)).squeeze(-1)
        shape = torch.broadcast_shapes(loc.shape[:-1], precision.shape[:-2])
        return dist.MultivariateNormal(
            loc.expand(*shape, self.latent_dim),
            precision_matrix=precision.expand(*shape, self.latent_dim, self.latent_dim),
        )

    def model(
        self,
        x: torch.Tensor | None,
        y: torch.Tensor | None = None,
        *,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """P(y) P(z) P(X|y, z); y is observed where given and enumerated where not."""
        num = x.shape[0] if x is not None else y.shape[0] if y is not None else batch_size
        with pyro.plate("data", num):
            y = pyro.sample(
                "y",
                dist.Categorical(logits=self.logits),
                obs=y,
                infer={"enumerate": "parallel"},
            )
            zero = torch.zeros(self.latent_dim, dtype=self.bias.dtype, device=self.bias.device)
            z = pyro.sample("z", dist.Normal(zero, 1.0).to_event(1))
            loc = (self.weight[y] @ z.unsqueeze(-1)).squeeze(-1) + self.bias[y]
            return pyro.sample("x", dist.Normal(loc, self.sigma).to_event(1), obs=x)

    def exact_guide(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """Q(y|x) = P(y|x) (enumerated) and Q(z|x, y) = P(z|x, y): a perfect proposal."""
        with pyro.plate("data", x.shape[0]):
            if y is None:
                y = pyro.sample("y", self.posterior_class(x), infer={"enumerate": "parallel"})
            pyro.sample("z", self.posterior(x, y))

    @torch.no_grad()
    def sample_data(self, num: int) -> torch.Tensor:
        """Draw ``num`` datapoints X ~ P(X)."""
        return self.model(None, batch_size=num)


class ConditionalLinearGaussian(nn.Module):
    """z|X ~ N(A X + a, I_d), Y|X, z ~ N(W z + B X + b, sigma^2 I_D): exact log P(Y|X).

    The programs take the target and the condition, ``model(y, x)`` and ``guide(y, x)``, as
    :class:`~pyro_vae.models.cvae.ConditionalVAE`'s do; the parameters are drawn at random
    (seeded by torch's generator) and are not trained.

    Args:
        target_dim: D, the width of Y.
        condition_dim: the width of X.
        latent_dim: d.
        sigma: the observation noise standard deviation.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> cond = ConditionalLinearGaussian(target_dim=4, condition_dim=3, latent_dim=2)
        >>> x = torch.randn(5, 3)
        >>> y = cond.sample_data(x)
        >>> cond.exact_log_likelihood(y, x).shape
        torch.Size([5])
    """

    def __init__(
        self, target_dim: int, condition_dim: int, latent_dim: int, *, sigma: float = 0.5
    ) -> None:
        super().__init__()
        self.latent_dim, self.sigma = latent_dim, sigma
        self.register_buffer("prior_weight", torch.randn(latent_dim, condition_dim))  # A
        self.register_buffer("prior_bias", torch.randn(latent_dim))  # a
        self.register_buffer("weight", torch.randn(target_dim, latent_dim) / latent_dim**0.5)
        self.register_buffer("skip", torch.randn(target_dim, condition_dim) / condition_dim**0.5)
        self.register_buffer("bias", torch.randn(target_dim))

    def prior_loc(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of P(z|X), A X + a."""
        return x.to(self.bias.dtype) @ self.prior_weight.T + self.prior_bias

    def marginal(self, x: torch.Tensor) -> dist.LowRankMultivariateNormal:
        """P(Y|X) = N(W (A X + a) + B X + b, W W^T + sigma^2 I), batch shape ``x.shape[:-1]``."""
        loc = self.prior_loc(x) @ self.weight.T + x.to(self.bias.dtype) @ self.skip.T + self.bias
        cov_diag = torch.full_like(self.bias, self.sigma**2)
        return dist.LowRankMultivariateNormal(loc, self.weight, cov_diag)

    @torch.no_grad()
    def exact_log_likelihood(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The closed-form log P(y|x) of each row, shape ``[B]``."""
        return self.marginal(x).log_prob(y.to(self.bias.dtype))

    def posterior(self, y: torch.Tensor, x: torch.Tensor) -> dist.MultivariateNormal:
        """The exact P(z|X, Y), batch shape ``[B]``."""
        w = self.weight
        eye = torch.eye(self.latent_dim, dtype=w.dtype, device=w.device)
        precision = w.T @ w / self.sigma**2 + eye
        residual = y.to(w.dtype) - x.to(w.dtype) @ self.skip.T - self.bias
        rhs = (residual @ w / self.sigma**2 + self.prior_loc(x)).unsqueeze(-1)
        loc = torch.cholesky_solve(rhs, torch.linalg.cholesky(precision)).squeeze(-1)
        return dist.MultivariateNormal(loc, precision_matrix=precision.expand(*loc.shape, -1))

    def model(
        self, y: torch.Tensor | None, x: torch.Tensor, *, batch_size: int | None = None
    ) -> torch.Tensor:
        """P(z|X) P(Y|X, z); Y observed where given (``batch_size``: ignored, X has it)."""
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(self.prior_loc(x), 1.0).to_event(1))
            loc = z @ self.weight.T + x.to(self.bias.dtype) @ self.skip.T + self.bias
            return pyro.sample("x", dist.Normal(loc, self.sigma).to_event(1), obs=y)

    def exact_guide(self, y: torch.Tensor, x: torch.Tensor) -> None:
        """Q(z|X, Y) = P(z|X, Y): a perfect proposal."""
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", self.posterior(y, x))

    @torch.no_grad()
    def sample_data(self, x: torch.Tensor) -> torch.Tensor:
        """Draw one target Y ~ P(Y|X) per row of ``x``."""
        return self.model(None, x)
