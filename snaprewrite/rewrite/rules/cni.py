"""What the CNI rules (calico, cilium, flannel, kuberouter, cniconfig) share; not a rule itself.

* ``move_text``: one address text at the same offset in the new pod CIDR: an IP, a CIDR (own mask
  kept), or an interface address with a prefix (``192.168.1.5/24``, host bits kept as they are).
* ``current_value`` / ``put_edit``: several rules may change one object (the nodes rule moves a
  Node's podCIDRs, the Calico rule its annotations): a later rule edits the value an earlier rule
  produced, and the object keeps one Edit holding every change.
* ``rename``: the one place a CNI rule asks for an object's key to change (Calico blocks and
  affinities, flannel subnet keys), with the same record semantics as IPAddress objects (``etcd.writes``).
* ``edit_annotations`` and ``configmap_data`` / ``set_configmap_data``: byte-exact edits of
  annotations (protobuf or JSON objects) and of ConfigMap data entries.
* ``edit_json``: string tokens of a custom resource stored as JSON, spliced in place (``jsonedit``).
"""

import dataclasses
import ipaddress
import json
from collections.abc import Callable

from ...errors import DecodeError, PlanError
from ...k8s import envelope, splice
from .. import jsonedit
from ..cidr import CidrMap, parse_subnet
from ..plan import Change, Context, Edit, Object
from .addresses import field_path, prefetch, read_fields

NODE_PREFIX = b"minions/"  # relative to the layout root, as every rule's prefixes
CONFIGMAP_PREFIX = b"configmaps/"


def move_text(cmap: CidrMap, text: str) -> str | None:
    """move_text maps an IP, a CIDR or an ``ip/prefix`` interface address in an old CIDR; None if untouched.

    A value that lies in an old CIDR but does not fit the new one raises PlanError naming it.
    """
    text = text.strip() if text else text
    if not text or not cmap.mappings:
        return None
    if "/" in text:
        m = cmap.map_subnet(text)
        if m is None:
            ip, _, plen = text.partition("/")
            try:
                iface = ipaddress.ip_interface(text)
            except ValueError:
                return None
            if str(iface.ip) != ip or iface.network.prefixlen == iface.max_prefixlen:
                return None
            moved = cmap.map_ip(ip)
            if moved is None:
                return None
            if not moved.fits:
                raise PlanError(f"{text} does not fit: {moved.reason}")
            return None if moved.new == ip else f"{moved.new}/{plen}"
    else:
        m = cmap.map_ip(text)
    if m is None:
        return None
    if not m.fits:
        net = parse_subnet(text) if "/" in text else None
        if net is not None and not net.subnet_of(m.mapping.old):
            return None  # a supernet of an old CIDR: not an address of it
        raise PlanError(f"{text} does not fit: {m.reason}")
    return None if m.new == text else m.new


def in_old(cmap: CidrMap, text: str) -> bool:
    """in_old tells whether an IP or CIDR text lies (at least partly) in an old CIDR of the map."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return any(m.version == net.version and net.overlaps(m.old) for m in cmap if not m.is_noop)


# -- several rules, one object ---------------------------------------------------------------


def _edit_index(ctx: Context) -> dict[bytes, int]:
    """_edit_index maps keys to their Edit's position; plan.edits only grows while rules run (sorted after)."""
    index, edits = ctx.edit_index, ctx.plan.edits
    for i in range(index.get(b"", 0), len(edits)):
        index[edits[i].key] = i
    index[b""] = len(edits)  # how many edits are indexed (no etcd key is empty)
    return index


def current_value(ctx: Context, obj: Object) -> bytes:
    """current_value is the object's value as the plan leaves it so far (an earlier rule's edit, or stored)."""
    i = _edit_index(ctx).get(obj.key)
    if i is None:
        return obj.value
    e = ctx.plan.edits[i]
    if e.new_key is not None:
        raise PlanError(f"{obj.key_text}: renamed by another rule; refusing a second edit")
    if e.sealed_with is not None:  # the earlier edit was encrypted again (Edit.of): edit its plaintext
        return obj.crypt.open(obj.key, e.new_value)[0]
    return e.new_value


def put_edit(ctx: Context, obj: Object, new_value: bytes, changes: list[Change]) -> None:
    """put_edit records ``new_value`` (computed from ``current_value``) and its changes as the object's one Edit."""
    if not changes:
        return
    i = _edit_index(ctx).get(obj.key)
    if i is None:
        ctx.plan.edits.append(Edit.of(obj, new_value, changes))
        return
    earlier = ctx.plan.edits[i]
    ctx.plan.edits[i] = Edit.of(obj, new_value, list(earlier.changes) + changes)


def rename(ctx: Context, obj: Object, new_value: bytes, changes: list[Change], new_key: bytes) -> None:
    """rename gives the object's latest record a new key (and value): the one call a CNI rule makes for it.

    The records it takes are the etcd layer's (``etcd.writes``: the new key's generation, the old key's
    deletion, an exact undo of an earlier rename), from the histories the planning scan gathered for
    the rule's ``renames`` prefixes (flannel adds those of the keys it finds by shape).
    """
    text = new_key.decode("utf-8", "backslashreplace")
    changes = [dataclasses.replace(c, new_key=text) for c in changes]  # each change says where it lives now
    ctx.plan.edits.append(Edit.of(obj, new_value, changes, new_key=new_key))


def check_renames(ctx: Context, live: set[bytes], moves: dict[bytes, bytes], what: str) -> None:
    """check_renames refuses renames onto a live key that is not itself renamed away, or two onto one key."""
    seen: dict[bytes, bytes] = {}
    for old, new in sorted(moves.items()):
        if new in seen:
            raise PlanError(f"{what} {old.decode()} and {seen[new].decode()} would both become {new.decode()}")
        seen[new] = old
        if new in live and new not in moves:
            raise PlanError(f"{old.decode()}: cannot rename to {new.decode()}: that key exists")


# -- annotations, ConfigMap data, JSON custom resources -----------------------------------------


def _is_json(value: bytes) -> bool:
    return bytes(value[:64]).lstrip()[:1] == b"{"


def annotations(obj: Object, api_version: str = "v1") -> list[tuple[str, str]]:
    """annotations returns the object's (key, value) annotations in stored order."""
    if _is_json(obj.value):
        return list(json.loads(obj.value).get("metadata", {}).get("annotations", {}).items())
    prefetch(obj, api_version, ("metadata", "annotations", "key"), ("metadata", "annotations", "value"))
    keys = read_fields(obj, api_version, ("metadata", "annotations", "key"))
    values = read_fields(obj, api_version, ("metadata", "annotations", "value"))
    return list(zip(keys, values))


def edit_annotations(ctx: Context, obj: Object, transform: Callable[[str, str], str | None],
                     api_version: str = "v1") -> list[Change]:
    """edit_annotations applies ``transform(key, value) -> new | None`` to every annotation, in place."""
    pairs = annotations(obj, api_version)
    moved = [(i, k, v, transform(k, v)) for i, (k, v) in enumerate(pairs)]
    moved = [(i, k, v, n) for i, k, v, n in moved if n is not None and n != v]
    if not moved:
        return []
    changes = [Change(obj.key_text, obj.kind, obj.namespace, obj.name, f"metadata.annotations.{k}", v, n)
               for _, k, v, n in moved]
    value = current_value(ctx, obj)
    if _is_json(value):
        wanted = {k: n for _, k, _, n in moved}

        def pick(ref: jsonedit.JStr) -> str | None:
            if not ref.is_key and len(ref.path) == 3 and ref.path[:2] == ("metadata", "annotations"):
                return wanted.get(ref.path[2])
            return None

        text, _ = jsonedit.replace_strings(value.decode("utf-8"), pick)
        new_value = text.encode("utf-8")
    else:
        replacement: list[str | None] = [None] * len(pairs)
        for i, _, _, n in moved:
            replacement[i] = n
        try:
            new_value = splice.set_fields(value, {field_path(obj, api_version, ("metadata", "annotations", "value")):
                                                  replacement})
        except (DecodeError, ValueError) as e:
            raise PlanError(f"{obj.key_text}: cannot rewrite its annotations ({e})") from None
    put_edit(ctx, obj, new_value, changes)
    return changes


def configmap_data(obj: Object) -> dict[str, str]:
    """configmap_data returns a ConfigMap's data entries (key -> text), protobuf or JSON."""
    if _is_json(obj.value):
        return dict(json.loads(obj.value).get("data") or {})
    keys = read_fields(obj, "v1", ("data", "key"))
    values = read_fields(obj, "v1", ("data", "value"))
    return dict(zip(keys, values))


def set_configmap_data(ctx: Context, obj: Object, new_data: dict[str, str], changes: list[Change]) -> None:
    """set_configmap_data writes new texts for some data entries of a ConfigMap (other bytes kept)."""
    if not changes:
        return
    value = current_value(ctx, obj)
    try:
        if _is_json(value):
            edits = {("data", k): [v] for k, v in new_data.items()}
            new_value = splice.set_json_fields(value, edits)
        else:
            keys = read_fields(obj, "v1", ("data", "key"))
            replacement = [new_data.get(k) for k in keys]
            new_value = splice.set_fields(value, {field_path(obj, "v1", ("data", "value")): replacement})
    except (DecodeError, ValueError) as e:
        raise PlanError(f"{obj.key_text}: cannot rewrite ({e})") from None
    put_edit(ctx, obj, new_value, changes)


def edit_json_text(text: str, what: str, transform: Callable[[jsonedit.JStr], str | None]
                   ) -> tuple[str, list[tuple[jsonedit.JStr, str]]]:
    """edit_json_text runs ``transform`` over a JSON document's string tokens, naming ``what`` on errors."""
    try:
        return jsonedit.replace_strings(text, transform)
    except (DecodeError, PlanError) as e:
        raise PlanError(f"{what}: {e}") from None


def json_object(obj: Object, value: bytes | None = None) -> str:
    """json_object returns a custom resource's stored JSON text, refusing what is not JSON."""
    value = obj.value if value is None else value
    try:
        env = envelope.parse(value)
    except DecodeError as e:
        raise PlanError(f"{obj.key_text}: cannot decode the stored value ({e}); refusing to rewrite") from None
    if env.storage == envelope.ENCRYPTED:
        raise PlanError(f"{obj.key_text}: value is encrypted ({env.provider}); snaprewrite cannot rewrite encrypted "
                        f"objects (use --exclude {obj.ref()} to leave it)")
    if env.storage != envelope.JSON:
        raise PlanError(f"{obj.key_text}: not a JSON custom resource; refusing to rewrite")
    return bytes(value).decode("utf-8")


def field_name(path: tuple) -> str:
    """field_name names a field of a decoded object as ``verify`` does: keys joined by ".", indices as ``[i]``."""
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "."


def _shown(v) -> str:
    """_shown writes a decoded value as the report and ``verify`` do: a string as it is, the rest as JSON."""
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def token_changes(obj: Object, text: str, done: list[tuple[jsonedit.JStr, str]]) -> list[Change]:
    """token_changes are the report entries of moved JSON tokens of ``text`` (the object's JSON before the edit).

    A moved value is one change (``spec.cidr``: old -> new). A moved object key (an IPAMHandle's
    ``spec.block`` key, a managedFields ``f:<cidr>`` key) is, as ``verify`` sees it, a field removed and
    another added: ``spec.block.10.244.1.0/26`` 1 -> absent, ``spec.block.10.55.1.0/26`` absent -> 1.
    """
    doc = json.loads(text) if any(ref.is_key for ref, _ in done) else None
    out = []
    for ref, new in done:
        if not ref.is_key:
            out.append(Change(obj.key_text, obj.kind, obj.namespace, obj.name, field_name(ref.path), ref.value, new))
            continue
        value = doc
        for p in ref.path:
            value = value[p]
        shown = _shown(value)
        out.append(Change(obj.key_text, obj.kind, obj.namespace, obj.name, field_name(ref.path), shown, None))
        out.append(Change(obj.key_text, obj.kind, obj.namespace, obj.name, field_name(ref.path[:-1] + (new,)),
                          None, shown))
    return out


def moved_token(cmap: CidrMap, ref: jsonedit.JStr) -> str | None:
    """moved_token maps a token whose whole text is an address (``f:<cidr>`` managedFields keys too)."""
    text = ref.value
    if ref.is_key and text.startswith("f:"):
        new = move_text(cmap, text[2:])
        return None if new is None else "f:" + new
    return move_text(cmap, text)
