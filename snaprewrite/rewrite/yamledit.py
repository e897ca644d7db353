"""In-place edits of scalar values in YAML text, keeping every other character (comments, order, quoting).

The text is composed with PyYAML, whose nodes carry marks (character offsets) of where each scalar
was written; a path selects scalars, the new values are spliced into those spans from the end of the
text backwards, and the result is composed again to check that exactly the intended scalars changed.

A path is a tuple of steps: a ``str`` key of a mapping, an ``int`` index of a sequence, ``EACH``
(every item of a sequence or every value of a mapping), or ``Match(key, value)`` (the items of a
sequence that are mappings with ``key: value``, e.g. kubeadm v1beta4's ``extraArgs`` list of
``{name, value}``). Examples: ``("networking", "serviceSubnet")``, ``("clusterDNS", EACH)``,
``("apiServer", "extraArgs", Match("name", "service-cluster-ip-range"), "value")``.

Plain scalars stay plain when the new value can be written plain, single- and double-quoted
scalars keep their quotes; block scalars (``|``, ``>``) and multi-line plain scalars are refused.
Marks count characters of the ``str`` given, not bytes: callers decode ConfigMap data first.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from io import StringIO
from typing import NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import DecodeError, PlanError


class _Each:
    def __repr__(self) -> str:
        return "EACH"


EACH = _Each()


@dataclass(frozen=True)
class Match:
    """A path step selecting the sequence items that are mappings holding ``key: value``."""

    key: str
    value: str


Step = str | int | _Each | Match
Path = tuple[Step, ...]


@dataclass(frozen=True)
class ScalarRef:
    """A scalar found in the text: its concrete path, value, source span (tag/anchor excluded) and style."""

    path: tuple[str | int, ...]
    value: str
    start: int
    end: int
    style: str | None
    in_flow: bool = False  # inside a flow collection ([...] or {...}), where "," ends a plain scalar
    mark: int = -1  # the node's own start mark (anchor/tag included), shared by its aliases


class Change(NamedTuple):
    """One edited scalar: concrete path, old value, new value."""

    path: tuple[str | int, ...]
    old: str
    new: str


def _compose_all(text: str) -> list[Node]:
    try:
        return [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError as e:
        raise DecodeError(f"invalid yaml: {str(e).splitlines()[0]}") from None


def _mapping_value(node: MappingNode, key: str) -> Node | None:
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v
    return None


def _walk(node: Node, path: Path, concrete: tuple, in_flow: bool = False
          ) -> Iterator[tuple[tuple, Node, bool]]:
    if not path:
        yield concrete, node, in_flow
        return
    step, rest = path[0], path[1:]
    in_flow = in_flow or bool(getattr(node, "flow_style", False))
    if isinstance(step, str) and isinstance(node, MappingNode):
        child = _mapping_value(node, step)
        if child is not None:
            yield from _walk(child, rest, concrete + (step,), in_flow)
    elif isinstance(step, int) and not isinstance(step, bool) and isinstance(node, SequenceNode):
        if 0 <= step < len(node.value):
            yield from _walk(node.value[step], rest, concrete + (step,), in_flow)
    elif step is EACH and isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            yield from _walk(child, rest, concrete + (i,), in_flow)
    elif step is EACH and isinstance(node, MappingNode):
        for k, child in node.value:
            if isinstance(k, ScalarNode):
                yield from _walk(child, rest, concrete + (k.value,), in_flow)
    elif isinstance(step, Match) and isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            if isinstance(child, MappingNode):
                v = _mapping_value(child, step.key)
                if isinstance(v, ScalarNode) and v.value == step.value:
                    yield from _walk(child, rest, concrete + (i,), in_flow)


def _ref(text: str, concrete: tuple, node: ScalarNode, in_flow: bool) -> ScalarRef:
    start, end = node.start_mark.index, node.end_mark.index
    # an explicit tag or anchor (``!!str 10.0.0.1``, ``&a 10.0.0.1``) is part of the node's span
    while start < end and text[start] in "!&":
        while start < end and not text[start].isspace():
            start += 1
        while start < end and text[start].isspace():
            start += 1
    return ScalarRef(concrete, node.value, start, end, node.style, in_flow, node.start_mark.index)


def find_scalars(text: str, path: Path) -> list[ScalarRef]:
    """find_scalars returns the scalars a path selects in every document of the text, in text order."""
    refs: dict[int, ScalarRef] = {}
    for doc in _compose_all(text):
        for concrete, node, in_flow in _walk(doc, tuple(path), ()):
            if isinstance(node, ScalarNode):
                ref = _ref(text, concrete, node, in_flow)
                refs.setdefault(ref.start, ref)  # an aliased node is edited once
    return [refs[k] for k in sorted(refs)]


def _plain_ok(value: str, in_flow: bool) -> bool:
    if not value:
        return False
    analysis = yaml.emitter.Emitter(StringIO()).analyze_scalar(value)
    allowed = analysis.allow_flow_plain if in_flow else analysis.allow_block_plain
    if not allowed or analysis.multiline:
        return False
    return yaml.resolver.Resolver().resolve(ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"


def _render(ref: ScalarRef, text: str, new: str) -> str:
    src = text[ref.start : ref.end]
    if ref.style is None:
        if src != ref.value or "\n" in src:
            raise PlanError(f"cannot edit the plain scalar at {_fmt(ref.path)} in place (it spans lines)")
        return new if _plain_ok(new, ref.in_flow) else json.dumps(new, ensure_ascii=False)
    if ref.style == "'":
        if "\n" in src:
            raise PlanError(f"cannot edit the quoted scalar at {_fmt(ref.path)} in place (it spans lines)")
        return "'" + new.replace("'", "''") + "'"
    if ref.style == '"':
        if "\n" in src:
            raise PlanError(f"cannot edit the quoted scalar at {_fmt(ref.path)} in place (it spans lines)")
        return json.dumps(new, ensure_ascii=False)
    raise PlanError(f"cannot edit the block scalar at {_fmt(ref.path)} in place")


def _fmt(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "(root)"


def _scalars(node: Node, concrete: tuple = ()) -> Iterator[tuple[tuple, str, str, int]]:
    if isinstance(node, ScalarNode):
        yield concrete, node.tag, node.value, node.start_mark.index
    elif isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            yield from _scalars(child, concrete + (i,))
    elif isinstance(node, MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, ScalarNode) else repr(k.start_mark.index)
            yield concrete + ("?key",), k.tag, key, -1
            yield from _scalars(v, concrete + (key,))


def splice(text: str, edits: Iterable[tuple[ScalarRef, str]]) -> str:
    """splice writes new values into the spans of the given scalars and checks nothing else changed."""
    edits = sorted(edits, key=lambda e: e[0].start)
    for (a, _), (b, _) in zip(edits, edits[1:]):
        if a.start == b.start or a.end > b.start:
            raise PlanError(f"overlapping edits at {_fmt(a.path)} and {_fmt(b.path)}")
    out = text
    for ref, new in reversed(edits):
        out = out[: ref.start] + _render(ref, out, new) + out[ref.end :]
    # check: the same tree, with exactly the edited values changed
    # (aliases of an edited node change with it: nodes are matched by their start mark)
    want = {ref.mark: new for ref, new in edits}
    expected = [[(p, t, want.get(m, v)) for p, t, v, m in _scalars(doc)] for doc in _compose_all(text)]
    after = [[(p, t, v) for p, t, v, _ in _scalars(doc)] for doc in _compose_all(out)]
    if after != expected:
        raise PlanError("in-place yaml edit changed more than the intended values")
    return out


def replace_scalars(text: str, edits: Iterable[tuple[Path, Callable[[str], str | None]]]
                    ) -> tuple[str, list[Change]]:
    """replace_scalars applies ``transform(old) -> new`` to every scalar each path selects.

    A transform returning None or the old value leaves the scalar alone. Returns the new text and
    the changes in text order; a path that selects nothing is not an error.
    """
    planned: dict[int, tuple[ScalarRef, str]] = {}
    for path, transform in edits:
        for ref in find_scalars(text, path):
            new = transform(ref.value)
            if new is None or new == ref.value:
                continue
            if ref.start in planned and planned[ref.start][1] != new:
                raise PlanError(f"conflicting edits of {_fmt(ref.path)}")
            planned[ref.start] = (ref, new)
    if not planned:
        return text, []
    chosen = [planned[k] for k in sorted(planned)]
    return splice(text, chosen), [Change(ref.path, ref.value, new) for ref, new in chosen]


def replace_scalar(text: str, path: Path, transform: Callable[[str], str | None]
                   ) -> tuple[str, list[Change]]:
    """replace_scalar applies ``transform`` to the scalars one path selects (see replace_scalars)."""
    return replace_scalars(text, [(path, transform)])


def path_text(path: tuple) -> str:
    """path_text writes a concrete path the way reports name it: ``networking.serviceSubnet``, ``clusterDNS[0]``."""
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def scalar_changes(old: str, new: str) -> list[Change] | None:
    """scalar_changes returns the scalar edits that turn ``old`` into exactly ``new`` (as ``splice`` writes them).

    None when the texts differ in any other way: another structure, a changed key or tag, or any
    character outside the edited scalars (a comment, spacing, quoting ``splice`` would not write).
    """
    try:
        a, b = _compose_all(old), _compose_all(new)
    except DecodeError:
        return None
    if len(a) != len(b):
        return None
    edits: dict[int, tuple[ScalarRef, str]] = {}
    for doc_a, doc_b in zip(a, b):
        xs, ys = list(_scalars(doc_a)), list(_scalars(doc_b))
        if len(xs) != len(ys):
            return None
        for (pa, ta, va, mark), (pb, tb, vb, _) in zip(xs, ys):
            if pa != pb or ta != tb or (va != vb and (not pa or pa[-1] == "?key")):
                return None
            if va != vb:
                ref = next((r for r in find_scalars(old, pa) if r.mark == mark), None)
                if ref is None:
                    return None
                edits.setdefault(ref.start, (ref, vb))
    if not edits:
        return None if old != new else []
    chosen = [edits[k] for k in sorted(edits)]
    try:
        if splice(old, chosen) != new:
            return None
    except PlanError:
        return None
    return [Change(ref.path, ref.value, value) for ref, value in chosen]
