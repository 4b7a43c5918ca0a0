"""Parts composed into Pyro programs: each model exposes ``model(x)`` and ``guide(x)``.

Modules:
    vae: the VAE, P(z) P(x|z) with the guide Q(z|x); the model registry and ``build_vae``.
    hierarchical: two stochastic layers, P(z2) P(z1|z2) P(x|z1).
    exact: the linear-Gaussian models, whose log P(x) has a closed form (for checking estimators).
    m2: the semi-supervised VAE, a class y beside z.
    cvae: the conditional VAE, P(Y|X) of a target given a condition.
"""

__all__: list[str] = []
