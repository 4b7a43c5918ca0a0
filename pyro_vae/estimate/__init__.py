"""Estimating log P(X) per datapoint: algorithms over Pyro programs, no run directories.

Modules:
    importance: importance sampling from the guide or the prior (naive Monte Carlo), the ELBO.
    ais: annealed importance sampling with HMC transitions.
    bdmc: bidirectional Monte Carlo, AIS bounds of log P(x) on simulated data.
    diagnostics: effective sample size, Pareto k-hat, standard errors and when to trust them.
    dataset: every estimator over a whole data set, in batches, shared among processes.
"""

__all__: list[str] = []
