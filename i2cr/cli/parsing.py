"""How every `i2cr` parser reads and explains itself: defaults in the help, old spellings."""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

Options = argparse.ArgumentParser | argparse._ArgumentGroup


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default, where it has one worth showing.

    An option's value is named after the option (`--output OUTPUT`), not after where the
    parser stores it.
    """

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return action.option_strings[0].lstrip("-").upper().replace("-", "_")

    def _format_action_invocation(self, action: argparse.Action) -> str:
        old = getattr(action, "old", ())
        if not old:
            return super()._format_action_invocation(action)
        shown = copy.copy(action)
        shown.option_strings = [s for s in action.option_strings if s not in old]
        return super()._format_action_invocation(shown)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or action.option_strings == []:
            return text
        if not worth_showing(action.default):
            return text
        return f"{text} (default: %(default)s)"


def worth_showing(default: object) -> bool:
    """Whether help should print a default: an option off, empty or unset says so itself."""
    if default is None or default is False or default is argparse.SUPPRESS:
        return False
    return default not in ("", [])


class Subcommands(argparse._SubParsersAction):
    """Subcommands whose one-line help is their description unless they give a longer one."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add a subcommand parser, described at least by its help."""
        summary = kwargs.get("help")
        if summary and not kwargs.get("description"):
            kwargs["description"] = summary[0].upper() + summary[1:] + "."
        return super().add_parser(name, **kwargs)


class CommandParser(argparse.ArgumentParser):
    """An `i2cr` parser: defaults shown, and a hint for an option given before its action."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", Subcommands)
        self.given: list[str] = []

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse, keeping what was given for the hint of `error`."""
        self.given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self.given, namespace)

    def error(self, message: str) -> NoReturn:
        """Exit with the message, naming the action an option belongs to when it came early."""
        hints = [hint for token in self.given if (hint := self.belongs_after(token))]
        super().error("; ".join([message, *hints]))

    def belongs_after(self, token: str) -> str | None:
        """Where an option this parser does not know goes, when one of its actions knows it."""
        option = token.split("=", 1)[0]
        if not option.startswith("-") or option in self._option_string_actions:
            return None
        owners = [
            name
            for action in self._actions
            if isinstance(action, argparse._SubParsersAction)
            for name, child in action.choices.items()
            if option in child._option_string_actions
        ]
        if not owners:
            return None
        return f"{option} is an option of {' and '.join(owners)}: put it after the action"


def warn_renamed(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Tell the user an option's spelling is deprecated, and what to write instead."""
    print(
        f"{parser.prog}: warning: {old} is deprecated and goes in the next release: use {new}",
        file=sys.stderr,
    )


class StoreAnySpelling(argparse._StoreAction):
    """An option stored as usual that also answers to its old spellings, with a warning."""

    def __init__(
        self, option_strings: list[str], dest: str, old: Sequence[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.old = tuple(old)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Store the value, warning when an old spelling gave it."""
        if option_string in self.old:
            warn_renamed(parser, option_string, self.option_strings[0])
        super().__call__(parser, namespace, values, option_string)


def option(group: Options, new: str, *old: str, **kwargs: Any) -> argparse.Action:
    """An option that keeps its old spellings working for one release (hidden from help)."""
    return group.add_argument(new, *old, action=StoreAnySpelling, old=old, **kwargs)


class Renamed(argparse.Action):
    """An old option whose value now goes elsewhere: it works, with a warning naming the new."""

    def __init__(
        self,
        option_strings: list[str],
        dest: str,
        *,
        new: str,
        convert: Callable[[Any], Any] | None = None,
        append: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new, self.convert, self.append = new, convert, append

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Warn, then store (or append) the value as the new option would."""
        warn_renamed(parser, option_string or "", self.new)
        value = self.convert(values) if self.convert else values
        if self.append:
            setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), value])
        else:
            setattr(namespace, self.dest, value)


def renamed(
    parser: Options,
    old: str,
    new: str,
    dest: str,
    **kwargs: Any,
) -> None:
    """Keep `old` working for one release, its value converted to what `new` stores."""
    parser.add_argument(old, dest=dest, action=Renamed, new=new, **kwargs)


def group(parser: argparse.ArgumentParser, title: str) -> argparse._ArgumentGroup:
    """The parser's argument group of this title, made when it has none yet."""
    for existing in parser._action_groups:
        if existing.title == title:
            return existing
    return parser.add_argument_group(title)
