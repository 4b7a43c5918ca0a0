import builtins
import subprocess
import sys

import pytest

from pyro_vae.cli.arguments import build_parser
from pyro_vae.cli.launch import main
from pyro_vae.cli.top import COMMANDS


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--version"], 0),
        (["--help"], 0),
        (["trian"], 2),
        ([], 2),
        (["train", "--latent", "3"], 2),  # a command's own usage errors too
        (["plot", "runs/x"], 2),
    ],
)
def test_help_version_and_usage_errors_are_answered_without_torch(argv, code):
    program = (
        "import sys; from pyro_vae.cli.launch import main; "
        f"code = main({argv!r}); print(code, 'torch' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stderr.splitlines()[-1] == f"{code} False"


def test_the_quick_answers_are_the_full_parsers_own(capsys):
    assert main(["--help"]) == 0
    quick = capsys.readouterr().out
    assert quick == build_parser().format_help()
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pyro-vae: error: argument command: invalid choice: 'trian'")
    assert list(COMMANDS) == list(build_parser()._subparsers._group_actions[0].choices)


def test_a_commands_usage_error_reads_as_the_full_parser_has_it(capsys):
    from pyro_vae.cli.commands import main as full

    for argv in (["train", "--latent", "3"], ["plot", "runs/x"], ["evaluate"]):
        assert main(argv) == 2
        quick = capsys.readouterr().err
        with pytest.raises(SystemExit) as stopped:  # argparse's own exit, in the full parser
            full(argv)
        assert stopped.value.code == 2
        assert quick == capsys.readouterr().err


def test_a_ctrl_c_while_the_commands_import_is_one_line(capsys, monkeypatch):
    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "pyro_vae.cli.commands":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert main(["train"]) == 130
    assert capsys.readouterr().err == "pyro-vae: interrupted while starting; nothing was done\n"


#: value errors that both the quick answer and the full command find, in one line
VALUE_ERRORS = [
    ["train", "--latent-dim", "abc"],
    ["train", "--prior", "nope"],
    ["evaluate", "runs/x", "--num-samples", "0"],
    ["evaluate", "runs/x", "--proposal", "prior", "--ais-steps", "10"],
    ["compare-estimators", "runs/x", "--ks", "1,a"],
    ["plot", "runs/x", "--kind", "nope"],
    ["train", "--resume", "runs/no-such-run"],
]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--help"],
        ["plot", "--help"],
        *VALUE_ERRORS,
        ["train", "--preset", "nope"],
        ["train", "--resume", "runs/x", "--out", "runs/y"],
        ["bdmc", "runs/x", "--schedules", "0"],
        ["sample", "runs/x", "--seed", "-1"],
        ["sample", "runs/x", "--device", "gpu"],
        ["evaluate", "runs/no-such-run"],
    ],
    ids=" ".join,
)
def test_a_commands_help_and_value_errors_need_no_torch(argv):
    program = (
        "import sys; from pyro_vae.cli.launch import main; "
        f"code = main({argv!r}); print(code, 'torch' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    code = 0 if "--help" in argv else 2
    assert done.stderr.splitlines()[-1] == f"{code} False"
    if code == 2:  # one line, then the status line above
        assert len(done.stderr.splitlines()) == 2
        assert done.stderr.startswith(f"pyro-vae {argv[0]}: error: ")


@pytest.mark.parametrize(
    "argv",
    [
        *VALUE_ERRORS,
        ["train", "--epochs", "0", "--prior", "mixture"],
        ["bdmc", "runs/x", "--ais-start", "middle"],
        ["sample", "runs/x", "-n", "0"],
        ["export", "runs/no-such-run", "elsewhere"],
    ],
    ids=" ".join,
)
def test_a_value_error_reads_as_the_command_has_it(argv, capsys):
    from pyro_vae.cli.commands import main as full

    assert main(argv) == 2
    quick = capsys.readouterr().err
    assert full(argv) == 2
    assert quick == capsys.readouterr().err


def test_a_commands_quick_help_is_the_full_parsers_own(capsys):
    for command, listed in (
        ("train", "standard-normal (N(0, I)"),
        ("evaluate", ""),
        ("plot", "khat"),
    ):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])  # the live registries'
        full = capsys.readouterr().out
        assert listed in full
        assert main([command, "--help"]) == 0  # the catalogue's
        assert capsys.readouterr().out == full
