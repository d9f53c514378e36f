"""Help a new user can read: every option has a help text and shows its default; the README's synopsis is complete."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from dpa.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["generate", "inspect", "verify", "ranges", "bench"]


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def test_every_command_is_listed() -> None:
    assert sorted(subparsers()) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_and_shows_its_default(command, capsys) -> None:
    parser = subparsers()[command]
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # one line: wrapping does not matter
    for action in options(parser):
        assert action.help and len(action.help) > 10, (command, action.dest)
        if action.default is not None and action.default is not False:
            assert f"(default: {action.default})" in text, (command, action.dest, text)
        for flag in action.option_strings or [action.metavar]:
            assert flag in text, (command, flag)


def test_top_level_help_lists_commands_and_exit_codes(capsys) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert command in text
    for code in ("0 ", "1 ", "2 ", "3 ", "4 "):
        assert f"\n  {code}" in text


def test_readme_synopsis_names_every_option() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Command line"):]
    synopsis = re.search(r"```\n(dpa generate.*?)```", section, flags=re.S).group(1)
    for command, parser in subparsers().items():
        line = next(line for line in synopsis.split("dpa ")[1:] if line.startswith(command))
        for action in options(parser):
            flags = action.option_strings or [action.metavar]
            assert any(f in line for f in flags), (command, flags)


def test_docs_describe_every_command() -> None:
    doc = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"dpa {command}" in doc


def test_messages_use_option_names_not_api_words(tmp_path, capsys) -> None:
    out = tmp_path / "o"
    args = ["generate", "--preset", "mild", "-n", "10", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" not in err
