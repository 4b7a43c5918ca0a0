"""The documents a visitor reads first point only at files that are in the repository."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "BENCHMARKS.md")
# Markdown links and images, and HTML image tags.
_TARGETS = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img[^>]*\bsrc=\"([^\"]+)\"")


def _tracked() -> set[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return set(listed.splitlines())


def _local_targets(document: str) -> list[str]:
    text = (ROOT / document).read_text(encoding="utf-8")
    targets = [a or b for a, b in _TARGETS.findall(text)]
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]
    return [t for t in local if t]


def test_the_link_finder_sees_links_and_images():
    assert "bench/figures/mnist-khat.png" in _local_targets("README.md")
    assert "BENCHMARKS.md" in _local_targets("README.md")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_image_and_link_target_is_in_git(document):
    tracked = _tracked()
    missing = []
    for target in _local_targets(document):
        path = (ROOT / target).resolve().relative_to(ROOT).as_posix()
        in_git = path in tracked or any(name.startswith(path + "/") for name in tracked)
        if not in_git:
            missing.append(target)
    assert not missing, f"{document} points at files that are not in git: {missing}"


def _options(parser) -> set[str]:
    import argparse

    found = {o for action in parser._actions for o in action.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
    return found


def test_every_option_the_readme_names_exists():
    from pyro_vae.cli.arguments import build_parser

    options = _options(build_parser())
    named = set(
        re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9](?!\w)", (ROOT / "README.md").read_text())
    )
    # options of pip, torchrun and tensorboard
    named -= {"--index-url", "--nproc-per-node", "--nnodes", "--standalone", "--logdir"}
    named -= {"--rdzv-backend", "--rdzv-endpoint", "--rdzv-id"}
    assert named and not named - options, sorted(named - options)


def test_the_readme_and_the_help_agree_on_what_resume_may_change():
    from pyro_vae.config import RESUMABLE

    text = " ".join((ROOT / "README.md").read_text().split())
    sentence = text[text.index("`--resume` may change") :].split(". ")[0]
    for name in RESUMABLE:
        assert f"--{name.replace('_', '-')}" in sentence


def test_help_shows_no_empty_defaults(capsys):
    from pyro_vae.cli.commands import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "(default: None)" not in capsys.readouterr().out


def _report():
    import importlib.util

    spec = importlib.util.spec_from_file_location("report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measured_numbers_in_the_documents_are_rendered_from_the_results():
    """BENCHMARKS.md and the README's results blocks are what bench/report.py makes of
    bench/results: no number in them was typed or left behind by an older result."""
    report = _report()
    assert (ROOT / "BENCHMARKS.md").read_text() == report.render_benchmarks()
    readme = (ROOT / "README.md").read_text()
    assert readme == report.render_readme(readme)
