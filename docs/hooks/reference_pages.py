"""MkDocs hook: the command-line and settings references, written from the code at build time.

A page holding `<!-- cli-reference -->` or `<!-- settings-reference -->` gets the markdown
made here from the `i2cr` argparse parsers or the `Context` declarations, so the reference
lists exactly the commands, options and settings the code has.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any

from i2cr.cli import build_parser
from i2cr.cli.parsing import HelpFormatter, Renamed, worth_showing
from i2cr.context.reference import WHO_MEANS, setting_docs

CLI_MARKER = "<!-- cli-reference -->"
SETTINGS_MARKER = "<!-- settings-reference -->"
USAGE_WIDTH = 78


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace the markers of a page with the references they stand for."""
    renderers: dict[str, Callable[[], str]] = {
        CLI_MARKER: cli_reference,
        SETTINGS_MARKER: settings_reference,
    }
    for marker, render in renderers.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    return markdown


def cli_reference() -> str:
    """Every `i2cr` command: description, usage, options by group, old spellings."""
    return "\n".join(
        section for name, parser in commands(build_parser()) for section in command(name, parser)
    )


def commands(
    parser: argparse.ArgumentParser, name: str = "i2cr"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and each of its subcommands' parsers, depth first, as `i2cr a b`."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from commands(child, f"{name} {child_name}")


def command(name: str, parser: argparse.ArgumentParser) -> Iterator[str]:
    """The markdown of one command."""
    yield f"## `{name}`\n"
    yield f"{parser.description}\n"
    yield f"```text\n{usage_of(parser)}\n```\n"
    for group in parser._action_groups:
        rows = [row(action) for action in group._group_actions if shown(action)]
        if rows:
            yield f"**{group.title}**\n"
            yield "| option | default | what it does |\n| --- | --- | --- |"
            yield from rows
            yield ""
    old = list(old_spellings(parser))
    if old:
        yield (
            "Old spellings, still accepted with a warning until the next release: "
            + ("; ".join(old))
            + ".\n"
        )


def usage_of(parser: argparse.ArgumentParser) -> str:
    """The parser's usage lines, wrapped at a fixed width, without the `usage:` prefix."""
    formatter = HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, "")
    return formatter.format_help().strip()


def shown(action: argparse.Action) -> bool:
    """Whether an option belongs in the table (not help, subcommands or old spellings)."""
    hidden = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction, Renamed)
    return not isinstance(action, hidden) and action.help != argparse.SUPPRESS


def row(action: argparse.Action) -> str:
    """One option as a table row."""
    old = set(getattr(action, "old", ()))
    names = [s for s in action.option_strings if s not in old]
    if action.option_strings:
        takes_value = action.nargs != 0
        value = f" {action.metavar or names[0].lstrip('-').upper().replace('-', '_')}"
        invocation = ", ".join(f"{n}{value if takes_value else ''}" for n in names)
    else:
        invocation = (action.metavar or action.dest).upper()
    if action.choices and not isinstance(action.choices, dict):
        invocation += " {" + ",".join(str(c) for c in action.choices) + "}"
    default = f"`{action.default}`" if worth_showing(action.default) else ""
    text = (action.help or "") % {"default": action.default, "prog": ""}
    return f"| `{invocation}` | {cell(default)} | {cell(text)} |"


def old_spellings(parser: argparse.ArgumentParser) -> Iterator[str]:
    """`old` (now `new`) for each old spelling the parser still accepts."""
    for action in parser._actions:
        if isinstance(action, Renamed):
            yield f"`{action.option_strings[0]}` (now `{action.new}`)"
        for old in getattr(action, "old", ()):
            yield f"`{old}` (now `{action.option_strings[0]}`)"


def settings_reference() -> str:
    """Every setting by group: type, default, rule, who may set it, what it does."""
    lines = ["| who | may set it |", "| --- | --- |"]
    lines += [f"| {who} | {cell(means)} |" for who, means in WHO_MEANS.items()]
    lines.append("")
    docs = setting_docs()
    for group in dict.fromkeys(doc.group for doc in docs):
        lines += [f"## {group}\n", "| setting | what it does |", "| --- | --- |"]
        for doc in (d for d in docs if d.group == group):
            kind = doc.kind + (f"; {doc.rule}" if doc.rule else "")
            about = f"`{doc.name}`<br>{cell(kind)}<br>default `{doc.default}`<br>*{doc.who}*"
            lines.append(f"| {about} | {cell(doc.description)} |")
        lines.append("")
    return "\n".join(lines)


def cell(text: str) -> str:
    """Text that keeps to one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
