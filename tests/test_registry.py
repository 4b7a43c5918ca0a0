import json
import re
import subprocess
import sys

import pyro.distributions as dist
import pytest
import torch

from pyro_vae import (
    DATASETS,
    GUIDES,
    LIKELIHOODS,
    NETWORKS,
    OBJECTIVES,
    PRIORS,
    Config,
    InputError,
    evaluate_run,
    load_run,
    train,
)
from pyro_vae.cli.commands import main
from pyro_vae.errors import command_line
from pyro_vae.registry import Registry, families, family, from_catalogue, read_catalogue


@pytest.mark.parametrize(
    "registry",
    [PRIORS, GUIDES, LIKELIHOODS, NETWORKS, OBJECTIVES, DATASETS],
    ids=lambda r: r.family,
)
def test_unknown_name_lists_the_valid_ones(registry):
    with pytest.raises(InputError) as info, command_line():
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


class _LaplacePrior(torch.nn.Module):
    """A prior from outside the package: independent Laplace(0, 1) coordinates."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)

    def forward(self):
        return dist.Laplace(self.loc, torch.ones_like(self.loc)).to_event(1)


@pytest.fixture
def laplace():
    PRIORS.register("laplace", "independent Laplace coordinates (a test's own)", jit=True)(
        _LaplacePrior
    )
    yield "laplace"
    PRIORS.unregister("laplace")


def test_a_prior_registered_from_outside_trains_saves_reloads_and_evaluates(laplace, tmp_path):
    config = Config(prior=laplace, epochs=2, latent_dim=2, hidden_dims=(16,))
    assert config.jit_allowed  # its entry says the JIT can compile it
    result = train(config, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert isinstance(run.vae.prior, _LaplacePrior)
    original, reloaded = result.vae.state_dict(), run.vae.state_dict()
    assert all(torch.equal(original[k], reloaded[k]) for k in original)
    evaluation = evaluate_run(run, num_samples=100, limit=20)
    guide = evaluation.summary["proposals"]["guide"]
    assert evaluation.summary["num_points"] == 20
    assert guide["elbo"] <= guide["log_likelihood"] < 0
    # the same run through the command line's evaluate, which builds the prior by name
    argv = ["evaluate", str(tmp_path / "run"), "--num-samples", "50", "--limit", "5"]
    assert main([*argv, "--overwrite"]) == 0


def test_traits_take_their_family_defaults_and_unknown_traits_are_a_bug():
    reg = Registry[int]("widget", "--widget", defaults={"jit": False})
    reg.register("plain", "no traits declared")(1)
    assert reg.trait("plain", "jit") is False
    with pytest.raises(ValueError, match="unknown traits"):
        reg.register("odd", "a trait the family lacks", colour="red")


def test_build_passes_each_factory_the_arguments_it_names():
    reg = Registry[object]("gadget", "--gadget")
    reg.register("sized", "takes a size")(lambda size: ("sized", size))
    reg.register("open", "takes anything")(lambda **kw: sorted(kw))
    assert reg.build("sized", size=3, colour="red") == ("sized", 3)
    assert reg.build("open", size=3, colour="red") == ["colour", "size"]


def test_from_python_the_unknown_name_names_the_setting():
    with pytest.raises(InputError, match=r"\(setting prior\)$"):
        PRIORS.get("no-such-prior")


def test_the_committed_catalogue_is_the_registries_own():
    program = "import json; from pyro_vae.registry import catalogue; print(json.dumps(catalogue()))"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == read_catalogue(), (
        "pyro_vae/catalogue.json is out of date: run python -m pyro_vae.registry"
    )


def test_the_catalogue_answers_like_the_registries_without_their_factories():
    live = {name: family(name) for name in read_catalogue()["families"]}
    assert set(live) <= set(families())  # (tests add families of their own)
    with from_catalogue():
        assert families() == tuple(live)
        for name, registry in live.items():
            described = family(name)
            assert described is not registry
            assert described.names() == registry.names()
            for entry in registry.entries():
                assert described.entry(entry.name).traits == entry.traits
                assert described.entry(entry.name).summary == entry.summary
            with pytest.raises(InputError) as told:
                described.check("no-such-part")
            with pytest.raises(InputError, match=re.escape(str(told.value))):
                registry.check("no-such-part")
            with pytest.raises(LookupError, match="no factories"):
                described.get(registry.names()[0])
    assert family("prior") is PRIORS  # the live registries are back


def test_a_part_registered_in_this_process_is_known_to_the_catalogue(laplace):
    with from_catalogue():
        assert family("prior").check("laplace") == "laplace"
        assert "laplace" in family("prior").names()
