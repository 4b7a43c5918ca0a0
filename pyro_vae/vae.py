"""The VAE: a prior, an encoder and a likelihood composed into a Pyro model and guide.

``vae.model(x)`` is the Pyro program for P(X|z)P(z) and ``vae.guide(x)`` the program for the
amortized Q(z|X). Both follow the project's site convention: a ``pyro.plate("data", B)`` around a
latent site ``"z"`` and (in the model) an observed site ``"x"``. Neither computes a loss: any Pyro
objective (``Trace_ELBO``, ``RenyiELBO``, ...) or tool (``Predictive``, the estimators in
:mod:`pyro_vae.estimators`) takes them as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import pyro
import torch
from torch import nn

from pyro_vae.config import MAX_WEIGHTS, Config
from pyro_vae.errors import InputError
from pyro_vae.guides import build_encoder
from pyro_vae.likelihoods import build_likelihood
from pyro_vae.priors import build_prior
from pyro_vae.registry import Registry

__all__ = ["MODELS", "VAE", "build_vae"]

_MEAN_DRAWS = 256


class VAE(nn.Module):
    """A variational autoencoder built from three swappable parts.

    Args:
        prior: module whose ``forward()`` returns P(z).
        encoder: module whose ``forward(x)`` returns Q(z|x).
        likelihood: module whose ``forward(z)`` returns P(X|z) and ``mean(z)`` returns E[X|z].
        name: the name under which ``pyro.module`` registers the parameters.

    Example:
        >>> import torch
        >>> from pyro.infer import Trace_ELBO
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(16,)), data_dim=64)
        >>> x = torch.bernoulli(torch.full((5, 64), 0.3))
        >>> loss = Trace_ELBO().loss(vae.model, vae.guide, x)  # -ELBO summed over the batch
        >>> vae.sample(4).shape
        torch.Size([4, 64])
    """

    def __init__(
        self, prior: nn.Module, encoder: nn.Module, likelihood: nn.Module, name: str = "vae"
    ) -> None:
        super().__init__()
        self.prior = prior
        self.encoder = encoder
        self.likelihood = likelihood
        self.name = name

    def model(
        self, x: torch.Tensor | None = None, *, batch_size: int | None = None
    ) -> torch.Tensor:
        """The generative model P(X|z)P(z) for a batch of flat data vectors.

        Args:
            x: observed data of shape ``[B, data_dim]``; ``None`` to sample X instead.
            batch_size: the number of datapoints to generate when ``x`` is ``None``.

        Returns:
            The value of site ``"x"`` (the data, or a sample when ``x`` is ``None``).
        """
        pyro.module(self.name, self)
        size = x.shape[0] if x is not None else batch_size
        if size is None:
            raise ValueError("model() needs data x or a batch_size")
        with pyro.plate("data", size):
            z = pyro.sample("z", self.prior())
            return pyro.sample("x", self.likelihood(z), obs=x)

    def guide(self, x: torch.Tensor) -> torch.Tensor:
        """The amortized approximate posterior Q(z|X) for a batch ``x`` of shape ``[B, data_dim]``.

        Returns:
            The sampled latent ``z`` of shape ``[B, latent_dim]``.
        """
        pyro.module(self.name, self)
        with pyro.plate("data", x.shape[0]):
            return pyro.sample("z", self.encoder(x))

    def init_from_data(self, x: torch.Tensor) -> bool:
        """Start the likelihood at the pixel marginals of the training data ``x``, if it can.

        Training calls this once, before the first step (see
        :meth:`pyro_vae.likelihoods.DecoderLikelihood.init_from_data` for why). A likelihood
        without the method is left as it is.

        Returns:
            Whether the likelihood was initialized.

        Example:
            >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=3)
            >>> vae.init_from_data(torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
            True
        """
        init = getattr(self.likelihood, "init_from_data", None)
        return bool(init(x)) if callable(init) else False

    @torch.no_grad()
    def sample(self, num: int) -> torch.Tensor:
        """Draw ``num`` latents from the prior and return the mean images E[X|z], ``[num, D]``."""
        z = self.prior().sample((num,))
        return self.likelihood.mean(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of each input: E[X | z = E_Q[z|x]], same shape as ``x``."""
        return self.likelihood.mean(self.encode(x))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior means E_Q[z|x], shape ``[B, latent_dim]``.

        For a guide without a closed-form mean (a flow), the average of 256 draws.
        """
        q = self.encoder(x)
        try:
            return q.mean
        except NotImplementedError:
            return q.rsample((_MEAN_DRAWS,)).mean(0)


ModelFactory = Callable[[Config, int], VAE]
MODELS: Registry[ModelFactory] = Registry("model", "--model")


@MODELS.register("vae", "the prior, guide and likelihood named by --prior, --guide, --likelihood")
def _vae(config: Config, data_dim: int) -> VAE:
    encoder = build_encoder(config, data_dim)
    return VAE(
        prior=build_prior(config, data_dim, encoder),
        encoder=encoder,
        likelihood=build_likelihood(config, data_dim),
    )


@MODELS.register(
    "linear-gaussian", "N(0, I) prior, P(X|z) = N(Wz + b, sigma^2 I): exact log P(X) (PPCA)"
)
def _linear_gaussian(config: Config, data_dim: int) -> VAE:
    from pyro_vae.exact import LinearGaussianVAE  # it subclasses VAE: import when needed

    return LinearGaussianVAE.from_config(config, data_dim)


def build_vae(config: Config, data_dim: int) -> VAE:
    """Build the model that ``config`` describes, for flat data vectors of width ``data_dim``.

    Args:
        config: the model family (``config.model``), the names of its parts and their sizes.
        data_dim: number of values per datapoint (pixels).

    Returns:
        A freshly initialized :class:`VAE` (or subclass, e.g. the linear-Gaussian model).

    Example:
        >>> vae = build_vae(Config(), data_dim=784)  # 784-200-200-50 tanh MLPs both ways
        >>> sum(p.numel() for p in vae.parameters())
        425284
    """
    first = config.hidden_dims[0] if config.hidden_dims else config.latent_dim
    if data_dim * first > MAX_WEIGHTS:
        raise InputError(
            f"{data_dim} values per datapoint into a first layer of {first} units need "
            f"{data_dim * first / 1e6:.0f} million weights, more than {MAX_WEIGHTS // 10**6} "
            "million: pass smaller --hidden-dims or smaller data"
        )
    return MODELS.get(config.model)(config, data_dim)
