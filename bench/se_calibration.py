"""Do the reported standard errors cover the exact log P(X), and does the flag say when not?

On the linear-Gaussian model (whose log P(X) is exact), importance sampling uses as proposal the
exact posterior with its standard deviations scaled by a factor: above 1 the weights have light
tails, below 1 heavy ones. Each of ``--points`` datapoints is estimated ``--repeats`` times with
fresh samples; an estimate "covers" when |estimate - exact| <= 1.96 standard errors. The table
gives, per scale and K, the coverage over all estimates, over those whose standard error is
reported reliable (k-hat at most the threshold) and over those flagged unreliable, the share
flagged, whether the data-set mean is reported reliable (at most 5% flagged) and the mean k-hat.

Usage:
    python bench/se_calibration.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyro
import pyro.distributions as dist
import torch

from pyro_vae import log_likelihood
from pyro_vae.models.exact import LinearGaussianVAE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

SCALES = (1.5, 1.0 + 1e-3, 0.8, 0.6, 0.5)  # 1 + 1e-3: the exact posterior, but not tied weights


def _model(seed: int) -> LinearGaussianVAE:
    torch.manual_seed(seed)
    vae = LinearGaussianVAE(8, 4, 0.7).double()
    with torch.no_grad():
        vae.weight.normal_()
        vae.bias.normal_()
    return vae


def _guide(vae: LinearGaussianVAE, scale: float, shift: float):
    def guide(x: torch.Tensor) -> None:
        post = vae.posterior(x)
        tril = post.scale_tril[0]
        with pyro.plate("data", x.shape[0]):
            loc = post.loc + shift * tril.diagonal()
            pyro.sample("z", dist.MultivariateNormal(loc, scale_tril=scale * tril))

    return guide


def _share(mask: np.ndarray, covered: np.ndarray) -> float | None:
    return float(covered[mask].mean()) if mask.any() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5, help="datapoints")
    parser.add_argument("--repeats", type=int, default=400, help="estimates per datapoint")
    parser.add_argument("--ks", default="100,1000", help="sample counts K")
    args = parser.parse_args()
    vae = _model(seed=2)
    x = vae.sample_data(args.points)
    exact = np.tile(vae.exact_log_likelihood(x).numpy(), args.repeats)
    rows = []
    for k in (int(v) for v in args.ks.split(",")):
        for scale in SCALES:
            torch.manual_seed(0)
            guide = _guide(vae, scale, shift=0.5)
            res = log_likelihood(
                vae.model, guide, x.repeat(args.repeats, 1), k, dtype=torch.float64
            )
            covered = np.abs(res.estimate - exact) <= 1.96 * res.standard_error
            reliable = res.se_reliable
            rows.append(
                {
                    "num_samples": k,
                    "guide_scale": round(scale, 3),
                    "estimates": int(covered.size),
                    "coverage": float(covered.mean()),
                    "coverage_reliable": _share(reliable, covered),
                    "coverage_flagged": _share(~reliable, covered),
                    "flagged_share": float(np.mean(~reliable)),
                    "mean_reliable": bool(res.summary()["reliable"]),
                    "mean_khat": float(np.nanmean(res.khat)),
                    "mean_bias": float(np.mean(res.estimate - exact)),
                }
            )
            r = rows[-1]
            print(
                f"K={k:5d} scale={scale:.3f}: coverage {r['coverage']:.3f}, "
                f"flagged {r['flagged_share']:.0%}, mean k-hat {r['mean_khat']:.2f}",
                flush=True,
            )
    save_result("se_calibration", {"nominal": 0.95, "rows": rows})


if __name__ == "__main__":
    main()
