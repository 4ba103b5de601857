"""``argparse-help``: a command's ``--help`` text, taken from its argparse parser at build time.

    .. argparse-help:: hiermodel.cli:build_parser
       :width: 88

renders the parser's ``format_help()`` in a literal block, then one section per subcommand
(recursively) with that subcommand's help, so the page cannot drift from the command.  The
help is formatted at a fixed width (``COLUMNS``), whatever the terminal that builds the docs.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

DEFAULT_WIDTH = 88


@contextmanager
def _columns(width: int) -> Iterator[None]:
    """``COLUMNS=width`` while the help is formatted (argparse reads it for its line width)."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, one-line help, parser)`` of each subcommand of ``parser``, in the order they
    were added (aliases left out)."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    out.append((name, helps.get(name, ""), sub))
    return out


def load_parser(spec: str) -> argparse.ArgumentParser:
    """The parser named by ``"module:function"`` (a function returning it) or
    ``"module:attribute"`` (the parser itself)."""
    modname, _, attr = spec.partition(":")
    obj = getattr(importlib.import_module(modname), attr)
    return obj() if callable(obj) and not isinstance(obj, argparse.ArgumentParser) else obj


class ArgparseHelp(SphinxDirective):
    required_arguments = 1
    option_spec = {"width": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        spec = self.arguments[0]
        width = self.options.get("width", DEFAULT_WIDTH)
        modname = spec.partition(":")[0]
        source = inspect.getsourcefile(importlib.import_module(modname))
        if source:
            self.env.note_dependency(source)
        with _columns(width):
            parser = load_parser(spec)
            return [self._literal(parser), *self._sections(parser, width)]

    def _literal(self, parser: argparse.ArgumentParser) -> nodes.literal_block:
        text = parser.format_help().rstrip()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return block

    def _sections(self, parser: argparse.ArgumentParser, width: int) -> list[nodes.section]:
        out = []
        for _name, help_, sub in subcommands(parser):
            title = sub.prog
            section = nodes.section(ids=[nodes.make_id(f"command-{title}")], names=[title])
            section += nodes.title(title, "", nodes.literal(title, title))
            if help_:
                section += nodes.paragraph(help_, help_[:1].upper() + help_[1:] + ".")
            section += self._literal(sub)
            section.extend(self._sections(sub, width))
            self.state.document.note_implicit_target(section, section)
            out.append(section)
        return out


def setup(app):
    app.add_directive("argparse-help", ArgparseHelp)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
