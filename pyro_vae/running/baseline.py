"""Training the CVAE's deterministic baseline first, and scoring it exactly.

Pyro's CVAE tutorial (after Sohn, Lee & Yan 2015) trains its baseline network to a minimum of
the validation loss, then trains the CVAE with the baseline held fixed; so does a run with
``baseline_epochs`` > 0. The baseline has no latent variable, so its loss is its exact negative
log-likelihood -log P(Y|X) (a plain Adam loop on it: the ELBO of a program without latents is
the same number, at the price of a trace per step), and evaluation reports that exact value
beside the CVAE's estimates of the same quantity.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch

from pyro_vae.config import Config
from pyro_vae.data.batches import epoch_batches
from pyro_vae.data.splits import DataSplits
from pyro_vae.hardware.devices import device_of
from pyro_vae.hardware.parallel import noise_seed
from pyro_vae.models.baseline import Baseline
from pyro_vae.models.cvae import ConditionalVAE
from pyro_vae.models.vae import VAE

__all__ = ["BaselineFit", "baseline_nll", "fit_baseline", "fit_run_baseline"]

_BASELINE = 6  # the key of the baseline's minibatches beside the run's seed (M2's labels: 5)


@dataclass
class BaselineFit:
    """What fitting a baseline did.

    Attributes:
        epochs: the epochs trained.
        best_epoch: the epoch (from 1) whose weights were kept: the best validation NLL.
        validation_nll: that epoch's mean -log P(Y|X) on the validation rows, exact.
        seconds: the time taken.
    """

    epochs: int
    best_epoch: int
    validation_nll: float
    seconds: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return asdict(self)


@torch.no_grad()
def baseline_nll(baseline: Baseline, rows: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """The exact -log P(Y|X) of every row ``[Y, X]`` (Y as wide as the baseline's target).

    Example:
        >>> from pyro_vae.models.baseline import build_baseline
        >>> baseline = build_baseline(target_dim=4, condition_dim=2, hidden_dims=(8,))
        >>> rows = torch.cat([torch.bernoulli(torch.full((3, 4), 0.5)), torch.rand(3, 2)], 1)
        >>> baseline_nll(baseline, rows).shape
        torch.Size([3])
    """
    device = device_of(baseline)
    target = baseline.target_dim
    parts = []
    for start in range(0, rows.shape[0], batch_size):
        batch = rows[start : start + batch_size].to(device)
        parts.append(-baseline.log_likelihood(batch[:, :target], batch[:, target:]).cpu())
    return torch.cat(parts) if parts else torch.zeros(0)


def fit_baseline(
    baseline: Baseline,
    splits: DataSplits,
    *,
    epochs: int,
    batch_size: int = 100,
    learning_rate: float = 1e-3,
    seed: int = 0,
    time_budget: float | None = None,
    verbose: bool = False,
) -> BaselineFit:
    """Train ``baseline`` on the run's rows ``[Y, X]``; keep its best validation epoch.

    Minibatches are shuffled and (for binary data) binarized afresh per epoch as the CVAE's are,
    from a seed of their own, so a run's baseline is the same however often it is rebuilt.

    Args:
        baseline: the network, trained in place.
        splits: the data (:func:`pyro_vae.data.splits.load_data` of a conditional run).
        epochs: at most this many epochs.
        batch_size: rows per Adam step.
        learning_rate: Adam's step size.
        seed: the seed of the minibatches.
        time_budget: stop after the epoch that passes this many seconds.
        verbose: print one line per epoch.

    Returns:
        A :class:`BaselineFit`.

    Example:
        >>> from pyro_vae.data.splits import load_data
        >>> from pyro_vae.models.baseline import build_baseline
        >>> splits = load_data(Config(model="cvae", condition="quadrants:2"), "binary")
        >>> baseline = build_baseline(target_dim=splits.target_dim,
        ...                           condition_dim=splits.condition_dim, hidden_dims=(16,))
        >>> fit_baseline(baseline, splits, epochs=2).epochs
        2
    """
    target, device = splits.target_dim, device_of(baseline)
    optimizer = torch.optim.Adam(baseline.parameters(), lr=learning_rate)
    best, kept, best_epoch = float("inf"), copy.deepcopy(baseline.state_dict()), 0
    started, done = time.perf_counter(), 0
    for epoch in range(epochs):
        for batch in epoch_batches(
            splits.train,
            batch_size,
            seed=noise_seed(seed, _BASELINE),
            epoch=epoch,
            binarize=splits.binarize_train,
            columns=target,
            dequantize=splits.dequantize_bits,
        ):
            batch = batch.to(device)
            loss = -baseline.log_likelihood(batch[:, :target], batch[:, target:]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        done = epoch + 1
        nll = float(baseline_nll(baseline, splits.validation).mean())
        if nll < best:
            best, best_epoch, kept = nll, done, copy.deepcopy(baseline.state_dict())
        if verbose:
            print(f"baseline epoch {done:3d}/{epochs}  val -log P(Y|X) {nll:9.3f}", flush=True)
        if time_budget is not None and time.perf_counter() - started > time_budget:
            break
    baseline.load_state_dict(kept)
    return BaselineFit(done, best_epoch, best, time.perf_counter() - started)


def fit_run_baseline(
    vae: VAE, config: Config, splits: DataSplits, *, verbose: bool = False
) -> BaselineFit | None:
    """Fit the baseline of a new run of ``--model cvae --baseline-epochs N``; else ``None``.

    Training calls this once, before the CVAE's first step; the baseline's weights are then
    part of the model's checkpoint, so a resumed run does not fit it again.
    """
    if not isinstance(vae, ConditionalVAE) or vae.baseline is None:
        return None
    fit = fit_baseline(
        vae.baseline,
        splits,
        epochs=config.baseline_epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        verbose=verbose,
    )
    if verbose:
        print(
            f"baseline: kept epoch {fit.best_epoch} of {fit.epochs}, validation -log P(Y|X) "
            f"{fit.validation_nll:.3f}; the CVAE's prior network reads its prediction",
            flush=True,
        )
    return fit
