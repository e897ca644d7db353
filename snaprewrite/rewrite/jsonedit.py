"""In-place edits of string tokens (values and object keys) in JSON text, keeping every other byte.

Custom resources (Calico, Cilium) are stored by kube-apiserver as compact JSON, and CNI configs sit
as JSON documents inside ConfigMaps. A rewrite must change only the strings that hold addresses: key
order, spacing and every other token stay as they were, so only those tokens' bytes change.

``strings(text)`` lists every string token with its path (object keys and list indices from the
top), its value, its character span and whether it is an object key. ``splice(text, edits)`` writes
new values into chosen tokens and checks the result: same tokens in the same order, the same bytes
between them, and each token either unchanged or the value asked for. The scanner is lenient with
bare words (``__CNI_MTU__`` placeholders that Calico's ``cni_network_config`` template holds): they
are kept as opaque tokens, so templates that are not strict JSON can be edited too.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import DecodeError, PlanError

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"]+))', re.S)


@dataclass(frozen=True, slots=True)
class JStr:
    """One string token: its path (keys and indices; a key token's path ends with its own text), value, span."""

    path: tuple
    value: str
    start: int
    end: int
    is_key: bool = False


def _tokens(text: str):
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                return
            raise DecodeError(f"broken json at character {pos}")
        pos = m.end()
        if m.group(1) is not None:
            yield "s", m.group(1), m.start(1), m.end(1)
        elif m.group(2) is not None:
            yield m.group(2), m.group(2), m.start(2), m.end(2)
        else:
            yield "w", m.group(3), m.start(3), m.end(3)


def _decode(token: str, start: int) -> str:
    try:
        return json.loads(token)
    except ValueError:
        raise DecodeError(f"broken json string at character {start}") from None


def strings(text: str) -> list[JStr]:
    """strings returns every string token of a JSON document (keys included), in text order."""
    out: list[JStr] = []
    # stack of [kind, path, index-or-key, expecting-key]
    stack: list[list] = []

    def value_path() -> tuple:
        top = stack[-1]
        return top[1] + (top[2],)

    for kind, tok, start, end in _tokens(text):
        top = stack[-1] if stack else None
        if kind == "{":
            stack.append(["o", value_path() if top else (), None, True])
        elif kind == "[":
            stack.append(["a", value_path() if top else (), 0, False])
            if top and top[0] == "a":
                pass
        elif kind in "}]":
            if not stack:
                raise DecodeError(f"unbalanced json at character {start}")
            stack.pop()
        elif kind == ",":
            if top is None:
                raise DecodeError(f"broken json at character {start}")
            if top[0] == "a":
                top[2] += 1
            else:
                top[3] = True
        elif kind == ":":
            if top is None or top[0] != "o":
                raise DecodeError(f"broken json at character {start}")
            top[3] = False
        elif kind == "s":
            value = _decode(tok, start)
            if top is not None and top[0] == "o" and top[3]:
                top[2] = value
                out.append(JStr(top[1] + (value,), value, start, end, True))
            else:
                out.append(JStr(value_path() if top else (), value, start, end))
    if stack:
        raise DecodeError("unterminated json document")
    return out


def _skeleton(text: str, refs: list[JStr]) -> list[str]:
    parts, cursor = [], 0
    for r in refs:
        parts.append(text[cursor : r.start])
        cursor = r.end
    parts.append(text[cursor:])
    return parts


def splice(text: str, edits: Iterable[tuple[JStr, str]]) -> str:
    """splice writes new values into the given string tokens and checks that nothing else changed."""
    edits = sorted(edits, key=lambda e: e[0].start)
    for (a, _), (b, _) in zip(edits, edits[1:]):
        if a.start == b.start:
            raise PlanError(f"conflicting json edits at {'.'.join(map(str, a.path))}")
    out = text
    for ref, new in reversed(edits):
        out = out[: ref.start] + json.dumps(new, ensure_ascii=False) + out[ref.end :]
    before, after = strings(text), strings(out)
    want = {ref.start: new for ref, new in edits}
    if len(before) != len(after) or _skeleton(text, before) != _skeleton(out, after) or \
            [want.get(b.start, b.value) for b in before] != [a.value for a in after]:
        raise PlanError("in-place json edit changed more than the intended values")
    return out


def replace_strings(text: str, transform) -> tuple[str, list[tuple[JStr, str]]]:
    """replace_strings applies ``transform(ref) -> new | None`` to every string token; returns (text, [(ref, new)])."""
    done = []
    for ref in strings(text):
        new = transform(ref)
        if new is not None and new != ref.value:
            done.append((ref, new))
    if not done:
        return text, []
    return splice(text, done), done


def label(path: tuple) -> str:
    """label renders a token path as ``verify`` names fields: keys joined by ".", indices as ``[i]``.

    ``spec.ipam.podCIDRs[0]``; a path through managedFields' ``f:`` keys stops before the first of them
    (``metadata.managedFields[0].fieldsV1``): a ":" in a field name means "inside the value" in reports.
    """
    text = ""
    for p in path:
        if isinstance(p, int):
            text += f"[{p}]"
            continue
        if ":" in p:
            break
        text += f".{p}" if text else p
    return text
