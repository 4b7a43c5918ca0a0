import pytest

from pyro_vae import Config, InputError, load_config_file


def test_defaults_are_the_burda_architecture():
    cfg = Config()
    assert (cfg.hidden_dims, cfg.latent_dim, cfg.activation) == ((200, 200), 50, "tanh")
    assert (cfg.prior, cfg.guide, cfg.likelihood, cfg.objective) == (
        "standard-normal",
        "diagonal",
        "bernoulli",
        "elbo",
    )


def test_strings_from_the_command_line_are_coerced():
    cfg = Config.from_dict(
        {"epochs": "3", "learning-rate": "0.01", "hidden_dims": "8,4", "compile": "off"}
    )
    assert (cfg.epochs, cfg.learning_rate, cfg.hidden_dims, cfg.compile) == (3, 0.01, (8, 4), "off")


@pytest.mark.parametrize(
    ("jit", "mode"),
    [
        ("on", "jit"),
        (True, "jit"),
        ("false", "off"),
        (False, "off"),
        ("off", "off"),
        ("auto", "auto"),
    ],
)
def test_the_jit_setting_of_older_runs_becomes_a_compile_mode(jit, mode):
    assert Config.from_dict({"jit": jit}).compile == mode


def test_round_trip_through_plain_values():
    cfg = Config(dataset="mnist", epochs=7, hidden_dims=(3, 5), data_dir="x")
    assert Config.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": -5}, "batch_size must be a positive integer"),
        ({"learning_rate": 0}, "learning_rate must be positive"),
        ({"learning_rate": "fast"}, "learning_rate must be a number"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"hidden_dims": "a,b"}, "hidden_dims must be an integer"),
        ({"latent_dim": 10**9}, "too large"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"beta": 0}, "beta must be > 0"),
        ({"sigma": float("nan")}, "finite"),
        ({"binarize": "sometimes"}, "choose one of auto, dynamic, none"),
        ({"compile": "jit", "warmup_epochs": 5}, "compile='jit'"),
        ({"compile": "yes"}, "choose auto, torch, jit, off"),
        ({"compile": "jit", "prior": "vamp"}, "Pyro's JIT cannot compile prior='vamp'"),
        ({"compile": "jit", "objective": "iwae"}, "no JIT version of the iwae objective"),
        ({"compile": "torch", "model": "m2", "labels": 100}, "summing the class"),
        ({"epoch": 3}, "unknown setting 'epoch' (did you mean epochs?)"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_values_get_one_clear_line(values, needle):
    with pytest.raises(InputError) as info:
        Config.from_dict(values)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_toml_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('dataset = "digits"\nepochs = 3\nhidden_dims = [32, 16]\n')
    cfg = Config.from_dict(load_config_file(path))
    assert (cfg.epochs, cfg.hidden_dims) == (3, (32, 16))


def test_broken_and_missing_config_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    with pytest.raises(InputError, match="is not valid"):
        load_config_file(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, True),
        ({"objective": "analytic-kl"}, True),
        ({"objective": "iwae", "num_particles": 5}, False),
        ({"warmup_epochs": 3}, False),
        ({"prior": "vamp"}, False),
        ({"prior": "flow"}, False),
        ({"guide": "iaf"}, False),
        ({"prior": "mixture"}, True),
        ({"model": "m2", "labels": 100}, False),
    ],
)
def test_pyros_jit_is_allowed_where_pyro_can_compile(values, expected):
    assert Config.from_dict(values).jit_allowed is expected
