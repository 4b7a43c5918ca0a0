import signal
from pathlib import Path

from pyro_vae.errors import command_line
from pyro_vae.running.interrupts import (
    PROCESSES_VARIABLE,
    FiguresInterrupted,
    interrupt_flag,
    stopped_message,
)


def test_the_first_signal_is_a_flag_and_the_handlers_come_back():
    before = signal.getsignal(signal.SIGINT)
    with interrupt_flag() as flag:
        signal.raise_signal(signal.SIGINT)
        assert flag == {"signal": signal.SIGINT}
    assert signal.getsignal(signal.SIGINT) is before


def test_a_stopped_run_says_how_to_resume_as_it_was_started(monkeypatch):
    monkeypatch.delenv(PROCESSES_VARIABLE, raising=False)
    with command_line():
        alone = stopped_message(2, Path("runs/a"), "epoch 3", many=False)
        many = stopped_message(15, Path("runs/a"), "epoch 3", many=True)
        monkeypatch.setenv(PROCESSES_VARIABLE, "2")
        started = stopped_message(2, Path("runs/a"), "epoch 3", many=True)
    assert alone.endswith("pyro-vae train --resume runs/a (exit status 130)")
    assert "torchrun --nproc-per-node N -m pyro_vae train --resume runs/a (exit" in many
    assert started.endswith("pyro-vae train --resume runs/a --processes 2 (exit status 130)")


def test_an_interrupt_while_drawing_is_a_keyboard_interrupt_that_says_the_run_is_whole():
    with command_line():
        stopped = FiguresInterrupted(Path("runs/a"))
    assert isinstance(stopped, KeyboardInterrupt)
    assert "runs/a is complete and saved: pyro-vae plot runs/a --kind KIND" in str(stopped)
