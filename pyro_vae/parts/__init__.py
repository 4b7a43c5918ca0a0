"""The swappable parts of a VAE, one registry per family, and the contracts they meet.

Modules:
    contracts: what a prior, an encoder and a likelihood must provide (``typing.Protocol``).
    networks: the neural networks the parts are built from (MLP, convolutional).
    priors: P(z) -- standard normal, mixture, VampPrior, flow.
    guides: Q(z|x) -- the amortized encoders: diagonal, full-rank, flow.
    likelihoods: P(x|z) -- Bernoulli, Gaussian, continuous Bernoulli.
"""

__all__: list[str] = []
