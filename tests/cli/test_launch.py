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
