import pytest

from pyro_vae import DATASETS, GUIDES, LIKELIHOODS, NETWORKS, OBJECTIVES, PRIORS, InputError
from pyro_vae.registry import Registry


@pytest.mark.parametrize(
    "registry",
    [PRIORS, GUIDES, LIKELIHOODS, NETWORKS, OBJECTIVES, DATASETS],
    ids=lambda r: r.family,
)
def test_unknown_name_lists_the_valid_ones(registry):
    with pytest.raises(InputError) as info:
        registry.get("no-such-part")
    message = str(info.value)
    assert "\n" not in message
    assert registry.option in message
    for name in registry.names():
        assert name in message


def test_register_twice_is_a_bug():
    reg = Registry[int]("thing", "--thing")
    reg.register("a", "first")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", "again")(2)
    assert "a" in reg and [e.summary for e in reg.entries()] == ["first"]
