"""How the command line talks when it is not running a command: help text and usage errors.

Help reads like kubectl's: the description, ``Examples:``, ``Arguments:``, ``Options:`` as
``-o, --output='table': Output format. One of: table|json.`` (a flag shows ``=false``, a repeatable
option ``=[]``), then ``Usage:``. Nothing is cut: command summaries are whole first lines.

Usage errors (unknown option, bad value, missing argument) are one line on stderr and exit 2, like
every other refusal: ``snaprewrite: error: --output: must be one of table|json (got 'xml')``.
"""

import enum
import inspect
import pathlib
import re
import sys
import types
import typing

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperCommand, TyperGroup

try:  # typer's private coercion modules (0.29): another typer keeps its own coercion throughout
    from typer import _coercion, _param_types

    _PLAIN = all(hasattr(_coercion, n) for n in ("RuntimeParam", "build_runtime_param")) and all(
        hasattr(_param_types, n) for n in ("coerce_cli_path", "coerce_cli_choice"))
except ImportError:
    _coercion = _param_types = None
    _PLAIN = False

from . import lazy_module, process

report = lazy_module("snaprewrite.report")  # only its error line is used here

# One example per command, shown under "Examples:" (a docstring's own "Examples:" section is shown too).
EXAMPLES = {
    "status": ["# What is in a snapshot, as etcdutl snapshot status shows it",
               "snaprewrite status backup.db -w fields"],
    "ls": ["# Live Services at the latest revision", "snaprewrite ls backup.db /registry/services/specs/"],
    "get": ["# One Service as the API shows it", "snaprewrite get backup.db /registry/services/specs/default/kubernetes -o json"],
    "dump": ["# Every live ConfigMap as JSON lines", "snaprewrite dump backup.db --prefix /registry/configmaps/"],
    "history": ["# Every stored revision of a key", "snaprewrite history backup.db /registry/ranges/serviceips"],
    "rewrite": ["# Plan a move of the service range, then write it",
                "snaprewrite rewrite backup.db --dry-run --service-cidr 10.96.0.0/12=10.100.0.0/16 --report plan.json",
                "snaprewrite rewrite backup.db --out migrated.db --service-cidr 10.96.0.0/12=10.100.0.0/16"],
    "check": ["# Structure, trailer and every record etcd parses", "snaprewrite check backup.db"],
    "verify": ["# Fail if the rewrite changed anything the plan does not list",
               "snaprewrite verify backup.db migrated.db --report plan.json"],
    "doctor": ["# What the API server's repair loop will say, for the ranges the snapshot declares or new ones",
               "snaprewrite doctor migrated.db --service-cidr 10.100.0.0/16"],
    "manifests": ["# Show the diffs of the static pod manifests first",
                  "snaprewrite manifests /etc/kubernetes/manifests --service-cidr 10.96.0.0/12=10.100.0.0/16 --dry-run"],
    "certs": ["# Show the SAN diff of the reissued API server certificate, then write it",
              "snaprewrite certs /etc/kubernetes/pki --service-cidr 10.96.0.0/12=10.100.0.0/16 --dry-run"],
    "rehearse": ["# Restore the rewritten snapshot with real etcd and read it back",
                 "snaprewrite rehearse backup.db --service-cidr 10.96.0.0/12=10.100.0.0/16",
                 "# Then let a real kube-apiserver judge it: repair events, decoding, a new Service's address",
                 "snaprewrite rehearse backup.db --service-cidr 10.96.0.0/12=10.100.0.0/16 "
                 "--kube-apiserver /usr/local/bin/kube-apiserver"],
}


def _annotation(p) -> typing.Any:
    """_annotation is a parameter's value type with ``| None`` and ``list[...]`` taken off."""
    ann = getattr(getattr(p, "type_descriptor", None), "annotation", None)
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, types.UnionType) and len(args) == 1:
        ann = args[0]
    if typing.get_origin(ann) is list:
        ann = (typing.get_args(ann) or (str,))[0]
    return ann


def choices(p) -> list[str] | None:
    """choices lists an option's allowed values (an Enum annotation), or None."""
    ann = _annotation(p)
    if inspect.isclass(ann) and issubclass(ann, enum.Enum):
        return [str(m.value) for m in ann]
    return None


def option_name(p) -> str:
    """option_name is the long name of an option (``--output``), or the upper-case name of an argument."""
    if isinstance(p, TyperArgument):
        return (p.name or "").upper()
    longs = [o for o in p.opts if o.startswith("--")]
    return longs[0] if longs else p.opts[0]


def _default(p) -> str:
    if getattr(p, "is_flag", False):
        return "false" if not p.default else "true"
    if p.multiple:
        return "[]"
    d = p.default
    if isinstance(d, enum.Enum):
        d = d.value
    if d is None or d == "":
        return "''"
    return f"'{d}'" if isinstance(d, str) else str(d)


def _help_of(p) -> str:
    text = " ".join((p.help or "").split())
    ch = choices(p)
    if ch:
        text += f" One of: {'|'.join(ch)}."
    if getattr(p, "min", None) is not None:
        text += f" At least {p.min}."
    if p.metavar:
        text += f" Form: {p.metavar}."
    return text


def _sections(help_text: str) -> tuple[str, list[str]]:
    """_sections splits a docstring into its description and its own "Examples:" lines."""
    text = inspect.cleandoc(help_text or "")
    head, sep, tail = text.partition("\nExamples:\n")
    return head.strip(), [line.strip() for line in tail.splitlines() if line.strip()] if sep else []


def _usage(cmd, ctx) -> str:
    pieces = [ctx.command_path]
    for p in cmd.params:
        if isinstance(p, TyperArgument):
            pieces.append(p.name.upper() if p.required else f"[{p.name.upper()}]")
    return " ".join(pieces) + " [options]"


def examples(cmd, ctx) -> list[str]:
    """examples are the command's example lines: its own, or the table's, or one built from its usage."""
    _, own = _sections(cmd.help)
    return own or EXAMPLES.get(cmd.name, []) or [_usage(cmd, ctx).replace(" [options]", "")]


class _Plain:
    """typer's coercion of a str, a Path or an Enum value without building its pydantic adapter.

    typer coerces every value through a pydantic ``TypeAdapter``, and importing pydantic to build them is
    about a tenth of ``status``'s wall on a 1.3 GB snapshot, before any work. The values the command line
    gives (a str, a None) go through the same steps typer's adapters take (``coerce_cli_choice``,
    ``coerce_cli_path``); anything else goes to typer's own coercion (``tests/cli/test_cli_coercion.py``).
    """

    coerce = _coercion.RuntimeParam.coerce if _PLAIN else None  # None, a lone str for a repeatable option: as typer's

    def __init__(self, param):
        self.param = param
        self.annotation = param.type_descriptor.annotation
        self.parameter_info = param.type_descriptor.parameter_info
        self.full = None

    def _coerce_value(self, value, param, ctx):
        a, info = self.annotation, self.parameter_info
        if type(value) is str and info.parser is None and self.param.type_descriptor.file_annotation is None:
            if a is str:
                return value
            if a is pathlib.Path and value and info.path_type is None:
                return _param_types.coerce_cli_path(pathlib.Path(value), info, path_type=a, param=param, ctx=ctx)
            if isinstance(a, type) and issubclass(a, enum.Enum):
                try:
                    return _param_types.coerce_cli_choice(value, choices=list(a), case_sensitive=info.case_sensitive,
                                                          ctx=ctx)
                except ValueError:
                    pass  # typer's own coercion says why, in its words
        if self.full is None:
            self.full = _coercion.build_runtime_param(self.param.type_descriptor)
        return self.full._coerce_value(value, param, ctx)


def plain_coercion(cmd, ctx) -> None:
    """plain_coercion gives ``cmd``'s parameters (--help too) ``_Plain`` coercion (typer's is built when needed)."""
    if not _PLAIN:
        return
    for p in cmd.get_params(ctx):
        if getattr(p, "_runtime_param", 0) is None and hasattr(p, "type_descriptor"):
            p._runtime_param = _Plain(p)


class Command(TyperCommand):
    """A typer command whose --help reads like kubectl's."""

    def parse_args(self, ctx, args):
        plain_coercion(self, ctx)
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter) -> None:
        desc, _ = _sections(self.help)
        out = [desc, "", "Examples:"] + [f"  {line}" for line in examples(self, ctx)]
        args = [p for p in self.params if isinstance(p, TyperArgument)]
        if args:
            out += ["", "Arguments:"] + [f"  {option_name(p)}: {_help_of(p)}" for p in args]
        out += ["", "Options:"]
        for p in self.params:
            if p in args or getattr(p, "hidden", False):
                continue
            short = [o for o in p.opts if not o.startswith("--")]
            longs = [o for o in p.opts if o.startswith("--")]
            names = ", ".join(short + longs) if short else "    " + ", ".join(longs)
            out.append(f"  {names}={_default(p)}: {_help_of(p)}")
        out.append("  -h, --help: Show this help.")
        out += ["", "Usage:", f"  {_usage(self, ctx)}"]
        formatter.write("\n".join(out) + "\n")


class Group(TyperGroup):
    """The top-level command: kubectl-like help, and every usage error as one line with exit 2."""

    def format_help(self, ctx, formatter) -> None:
        width = max(len(n) for n in self.commands)
        out = [inspect.cleandoc(self.help or ""), "", "Commands:"]
        for name, cmd in self.commands.items():
            if not getattr(cmd, "hidden", False):
                out.append(f"  {name.ljust(width)}  {_sections(cmd.help)[0].splitlines()[0] if cmd.help else ''}")
        out += ["", "Usage:", f"  {ctx.command_path} COMMAND [options]", "",
                f'Use "{ctx.command_path} COMMAND --help" for more information about a command.']
        formatter.write("\n".join(out) + "\n")

    def parse_args(self, ctx, args):
        plain_coercion(self, ctx)
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name or "snaprewrite", complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            sys.stdout.write(e.ctx.get_help() + "\n")
            sys.exit(0)
        except click.exceptions.ClickException as e:
            report.error(usage_message(e))
            sys.exit(2 if isinstance(e, click.exceptions.UsageError) else 1)
        except (typer.Abort, KeyboardInterrupt) as e:
            name, code = (e.name, e.exit_code) if isinstance(e, process.Interrupted) else ("SIGINT", 130)
            report.error(f"interrupted by {name}")
            sys.exit(code)
        sys.exit(rv if isinstance(rv, int) else 0)


CHOICE_VALUE = re.compile(r"(?:Value error, )?(.+?) is not one of ")


def usage_message(e) -> str:
    """usage_message is the one line for a usage error: the option, what it wants, and what it got."""
    E = click.exceptions
    param = getattr(e, "param", None)
    if isinstance(e, E.MissingParameter) and param is not None:
        what = "argument" if isinstance(param, TyperArgument) else "option"
        return f"missing {what} {option_name(param)}"
    if isinstance(e, E.BadParameter) and param is not None:
        name = option_name(param)
        ch = choices(param)
        if ch:
            m = CHOICE_VALUE.match(e.message)
            return f"{name}: must be one of {'|'.join(ch)}" + (f" (got {m.group(1)})" if m else "")
        return f"{name}: {e.message.removeprefix('Value error, ')}"
    if isinstance(e, E.NoSuchOption):
        return f"unknown option {e.option_name}" + (f" (did you mean {', '.join(sorted(e.possibilities))}?)"
                                                    if e.possibilities else "")
    return " ".join(e.format_message().split())


class App(typer.Typer):
    """A Typer whose commands use ``Command`` (kubectl-like help) unless told otherwise."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or Command, **kwargs)
