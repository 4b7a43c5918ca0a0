import pyro_vae.progress as progress_module
from pyro_vae.progress import duration, progress


def test_off_a_terminal_progress_is_a_line_with_the_time_left(monkeypatch, capsys):
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    monkeypatch.setattr(progress_module, "EVERY", 0.0)  # a line at every item
    assert list(progress(range(4), total=4, what="guide K=10", unit="points")) == [0, 1, 2, 3]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3  # none before the first item is done
    assert lines[0].startswith("guide K=10: 1/4 points, 0 s, about ")
    assert lines[-1].startswith("guide K=10: 3/4 points")


def test_progress_can_be_off_and_times_read_as_people_read_them(capsys):
    assert list(progress(iter("ab"), total=2, what="x", unit="y", enabled=False)) == ["a", "b"]
    assert capsys.readouterr().err == ""
    assert duration(59.6) == "1 min 0 s" and duration(-3) == "0 s" and duration(3600) == "1 h 0 min"
