"""The command line's grammar: the parser and the checks of option values."""

import argparse

import pytest

from pyro_vae.cli.arguments import (
    EXIT_INPUT_ERROR,
    build_parser,
    chain_options,
    config_overrides,
    integers,
    positive,
    proposals,
    seed,
    unrecognized,
)
from pyro_vae.errors import InputError


def test_value_checks_name_the_option_and_an_example():
    assert positive("3", "--limit") == 3
    with pytest.raises(InputError, match="--limit must be a positive integer, got '0'"):
        positive("0", "--limit")
    assert seed("0") == 0 and seed(str(2**32 - 1)) == 2**32 - 1
    for bad in ("one", "-1", str(2**32), "99999999999999999999"):
        with pytest.raises(InputError, match=r"--seed must be an integer from 0 to 4294967295"):
            seed(bad)
    assert integers("1000,10,10", "--ais-steps") == [10, 1000]
    with pytest.raises(InputError, match="--ais-steps must be positive integers"):
        integers("10,,100", "--ais-steps")


def test_every_estimator_command_takes_ais():
    assert proposals("both") == ("guide", "prior")
    assert proposals("ais") == ("ais",)
    with pytest.raises(InputError, match="choose one of guide, guide-drawn, prior, ais, both, all"):
        proposals("naive")
    for command in ("evaluate", "compare-estimators", "bdmc"):
        args = build_parser().parse_args([command, "run", "--ais-chains", "8"])
        assert chain_options(args) == {
            "num_chains": 8,
            "leapfrog_steps": 10,
            "start": "guide",
            "warmup_steps": 20,
        }
    bad = argparse.Namespace(
        ais_chains="8", leapfrog_steps="10", ais_start="posterior", ais_warmup="20"
    )
    with pytest.raises(InputError, match="choose guide or prior"):
        chain_options(bad)
    bad.ais_start = "prior"
    for text in ("-1", "ten"):
        bad.ais_warmup = text
        with pytest.raises(InputError, match="--ais-warmup must be an integer >= 0"):
            chain_options(bad)


def test_only_the_settings_given_are_overridden():
    args = build_parser().parse_args(["train", "--latent-dim", "4", "--compile", "off"])
    assert config_overrides(args) == {"latent_dim": "4", "compile": "off"}


def test_an_unknown_option_is_one_line_with_a_close_match(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit) as info:
        unrecognized(parser, ["evaluate", "run", "--ais-step", "10"])
    assert info.value.code == EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean --ais-steps?" in err
