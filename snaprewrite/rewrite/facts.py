"""What a snapshot says about its cluster's networks: service and pod ranges, node and API server addresses.

Each fact carries the etcd key and field it was read from, so a refusal or a finding can name its source:

* service ranges: the allocators' RangeAllocation ``range`` (``/registry/ranges/serviceips``,
  ``secondaryserviceips``), ServiceCIDR ``spec.cidrs`` (1.27+), kubeadm-config's ClusterConfiguration
  ``networking.serviceSubnet`` and the ``service-cluster-ip-range`` extraArgs of apiServer/controllerManager;
* pod ranges: kubeadm-config ``networking.podSubnet`` and controllerManager ``cluster-cidr``, kube-proxy's
  ``clusterCIDR``; every Node's ``spec.podCIDRs`` (or ``podCIDR``) separately, as ``node_pod_cidrs``;
* node addresses: every Node's ``status.addresses`` of type InternalIP;
* API server addresses: ``/registry/masterleases/<ip>`` (the key names the IP), the Endpoints of
  ``default/kubernetes`` and kubeadm's ClusterStatus ``apiEndpoints.*.advertiseAddress``.

``State`` is the set of latest live values these readers (and ``doctor``) look at, read in one scan of
bucket ``key``; ``State.with_plan`` shows the same keys as a rewrite plan would leave them. Values are
read with the project's decoders (``k8s.fields``, ``k8s.decode``, ``yamledit.find_scalars``); values that
do not decode become ``problems`` (one line naming the key), never exceptions.
"""

import bisect
import functools
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import DecodeError, PlanError
from ..etcd import mvcc, writes
from ..etcd.snapshot import Snapshot
from ..k8s import decode, envelope, fields, registry
from ..k8s.layout import Layout, detect
from .yamledit import EACH, Match, find_scalars

Progress = Callable[[int], None] | None
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Key paths relative to the layout root (``/registry/``, OpenShift's ``/kubernetes.io/``): ``State`` joins it.
SERVICES = b"services/specs/"
NODES = b"minions/"
RANGES = b"ranges/"
SERVICECIDRS = b"servicecidrs/"
IPADDRESSES = b"ipaddresses/"
MASTERLEASES = b"masterleases/"
KUBE_SYSTEM_CONFIGMAPS = b"configmaps/kube-system/"
KUBERNETES_ENDPOINTS = b"services/endpoints/default/kubernetes"
# What doctor's CNI checks read (rewrite/cnicheck.py): relative to the root, and flannel's own etcd keys,
# which its subnet manager writes outside the Kubernetes tree (absolute, whatever the layout).
CNI_PREFIXES = (b"crd.projectcalico.org/", b"cilium.io/ciliumnodes/", b"configmaps/")
CNI_ABSOLUTE = (b"/coreos.com/network/",)
PREFIXES = (SERVICES, NODES, RANGES, SERVICECIDRS, IPADDRESSES, MASTERLEASES, KUBE_SYSTEM_CONFIGMAPS,
            KUBERNETES_ENDPOINTS) + CNI_PREFIXES
ALLOCATORS = (b"ranges/serviceips", b"ranges/secondaryserviceips")
KUBEADM_CONFIG = KUBE_SYSTEM_CONFIGMAPS + b"kubeadm-config"
KUBE_PROXY = KUBE_SYSTEM_CONFIGMAPS + b"kube-proxy"


@dataclass(frozen=True)
class Fact:
    """One value (a CIDR or an IP) the snapshot declares, and where: etcd key, field, and an object name."""

    value: str
    key: str
    field: str
    name: str = ""

    @property
    def source(self) -> str:
        return f"{self.key} {self.field}"

    def network(self) -> Network | None:
        """network is the value as a network (host bits masked), None if it is no CIDR."""
        if "/" not in self.value:
            return None
        try:
            return ipaddress.ip_network(self.value, strict=False)
        except ValueError:
            return None

    def address(self):
        """address is the value as an IP address, None if it is no IP literal."""
        try:
            return ipaddress.ip_address(self.value)
        except ValueError:
            return None

    def as_json(self) -> dict:
        out = {"value": self.value, "key": self.key, "field": self.field}
        if self.name:
            out["name"] = self.name
        return out


@dataclass
class Facts:
    """What the snapshot declares about its networks (see the module docstring); lists are in key order."""

    service_ranges: list[Fact] = field(default_factory=list)
    pod_ranges: list[Fact] = field(default_factory=list)
    node_pod_cidrs: list[Fact] = field(default_factory=list)
    node_ips: list[Fact] = field(default_factory=list)
    apiserver_ips: list[Fact] = field(default_factory=list)
    node_mask_sizes: dict[int, Fact] = field(default_factory=dict)  # IP version -> node-cidr-mask-size flag
    problems: list[str] = field(default_factory=list)
    root: bytes = b"/registry/"  # the layout root of the keys the facts name

    def as_json(self) -> dict:
        return {
            "serviceRanges": [f.as_json() for f in self.service_ranges],
            "podRanges": [f.as_json() for f in self.pod_ranges],
            "nodePodCIDRs": [f.as_json() for f in self.node_pod_cidrs],
            "nodeIPs": [f.as_json() for f in self.node_ips],
            "apiserverIPs": [f.as_json() for f in self.apiserver_ips],
            "problems": list(self.problems),
        }


def indexed(layout: Layout) -> tuple[bytes, ...]:
    """indexed are the absolute key prefixes ``State`` holds under ``layout``: PREFIXES joined to its root, and CNI_ABSOLUTE."""
    return layout.keys(PREFIXES) + CNI_ABSOLUTE


_UNSET = object()  # (``State.live``: a key the overlay does not name)


class State:
    """The latest live value of every key under ``PREFIXES``: from a snapshot, optionally overlaid by a plan.

    ``overlay`` maps a key to its value after the plan (None: deleted by it; an ``etcd.writes.Write``: its
    value); other keys read the snapshot.
    Keys are absolute; ``keys``, ``has`` and ``value`` also take a key path relative to the layout root
    (no leading ``/``: ``ranges/serviceips``) and join ``layout``'s root (``key``).
    With ``crypt`` (``k8s.encryption.EncryptionConfig``) values encrypted at rest are read decrypted (one
    it cannot open raises EncryptionError); without it they stay encrypted and count as problems.
    """

    def __init__(self, snap: Snapshot, index: dict[bytes, bytes], overlay: dict[bytes, bytes | None] | None = None,
                 layout: Layout | None = None, crypt=None, keys: list[bytes] | None = None):
        self.snap = snap
        self.index = index
        self.overlay = overlay or {}
        self.layout = layout or Layout()
        self.crypt = crypt
        self.found: Facts | None = None  # ``discover``'s result, once made (a State does not change)
        if keys is not None:  # the live keys, sorted, as computed below (``with_plan`` knows them)
            self._keys = keys
        elif self.overlay:
            live = set(index) | {k for k, v in self.overlay.items() if v is not None}
            self._keys = sorted(k for k in live if self.overlay.get(k, b"") is not None)
        else:
            self._keys = sorted(index)

    @classmethod
    def scan(cls, snap: Snapshot, progress: Progress = None, layout: Layout | None = None, crypt=None) -> "State":
        """scan indexes the keys under PREFIXES (below ``layout``'s root, detected if None) in one pass."""
        layout = layout or detect(snap)
        index = mvcc.latest_index(snap, indexed(layout), progress, hint_leaves=True)
        # ``of_index(live_keys(...))`` without their copies of the index (at 8 GiB each is tens of MB):
        # deleted keys and the Endpoints other than ``default/kubernetes`` are dropped in place
        endpoints = layout.key(KUBERNETES_ENDPOINTS)
        hints = snap.key_bucket().leaf_hints
        for k in [k for k, rk in index.items() if mvcc.is_tombstone(rk) or k.startswith(endpoints) and k != endpoints]:
            hints.pop(index.pop(k), None)
        return cls(snap, index, layout=layout, crypt=crypt)

    @classmethod
    def of_index(cls, snap: Snapshot, index: dict[bytes, bytes], layout: Layout, crypt=None) -> "State":
        """of_index is ``scan``'s State from the live keys under ``indexed(layout)`` indexed by another pass."""
        endpoints = layout.key(KUBERNETES_ENDPOINTS)
        index = {k: v for k, v in index.items() if not k.startswith(endpoints) or k == endpoints}
        return cls(snap, index, layout=layout, crypt=crypt)

    def key(self, key: bytes) -> bytes:
        """key is ``key`` itself when absolute, else joined to the layout root."""
        return key if key.startswith(b"/") else self.layout.key(key)

    def with_plan(self, plan) -> "State":
        """with_plan is this state as a rewrite ``plan`` (rewrite.plan.Plan) leaves it: new values, and renamed
        objects gone from their old key and live under the new one."""
        overlay: dict[bytes, bytes | None] = dict(self.overlay)
        held = indexed(self.layout)
        index = self.index
        lookup = index.get
        old: list[bytes] = []  # keys renamed away (some may be renamed to again)
        new: list[bytes] = []  # keys renamed to
        for e in plan.edits:
            w = e.write
            key, new_key = w.key, w.new_key
            if lookup(key) != w.revkey:
                continue  # not the live record: the plan does not change what is live
            if new_key is not None:
                overlay.setdefault(key, None)
                old.append(key)
                if new_key.startswith(held):
                    overlay[new_key] = w  # its value is read back when asked for (``value``)
                    new.append(new_key)
            else:
                overlay[key] = w
                if self.overlay:  # (a key of the index this state has deleted is live again)
                    new.append(key)
        # the live keys: this state's, but those the plan deletes, and the keys it adds (two sorted runs: one merge)
        gone = {k for k in old if overlay[k] is None}
        was_live = self.has if self.overlay else index.__contains__  # (without an overlay: the index's keys)
        added = sorted({k for k in new if overlay[k] is not None and not was_live(k)})
        keys = [k for k in self._keys if k not in gone] if gone else list(self._keys)
        return State(self.snap, index, overlay, self.layout, self.crypt, sorted(keys + added) if added else keys)

    def _run(self, prefix: bytes) -> tuple[int, int]:
        """_run is where the keys under ``prefix`` (absolute) lie in the sorted keys: one run, found by bisection."""
        keys = self._keys
        start = bisect.bisect_left(keys, prefix)
        above = prefix.rstrip(b"\xff")  # the first key past every key under prefix: its last byte not 0xff, plus one
        end = bisect.bisect_left(keys, above[:-1] + bytes([above[-1] + 1]), start) if above else len(keys)
        return start, end

    def keys(self, prefix: bytes) -> list[bytes]:
        """keys lists the live keys under ``prefix``, sorted."""
        start, end = self._run(self.key(prefix))
        return self._keys[start:end]

    def keys_outside(self, prefix: bytes) -> list[bytes]:
        """keys_outside lists the live keys not under ``prefix``, sorted (``b""``: those outside the layout root)."""
        start, end = self._run(self.key(prefix))
        return self._keys[:start] + self._keys[end:]

    def has(self, key: bytes) -> bool:
        key = self.key(key)
        if key in self.overlay:
            return self.overlay[key] is not None
        return key in self.index

    def live(self, key: bytes) -> bool:
        """live is ``has`` of an absolute key (not joined: the doctor's loops ask it per cluster IP)."""
        got = self.overlay.get(key, _UNSET)
        if got is not _UNSET:
            return got is not None
        return key in self.index

    def value(self, key: bytes) -> bytes | None:
        """value is the key's latest value (None if it is not live)."""
        key = self.key(key)
        if key in self.overlay:
            value = self.overlay[key]
            if isinstance(value, writes.Write):  # a plan's new value (``with_plan``), kept out of memory
                value = value.value
        else:
            revkey = self.index.get(key)
            if revkey is None:
                return None
            value = mvcc.record_at(self.snap, revkey).kv.value
        if self.crypt is not None and value is not None:
            value = self.crypt.open(key, value)[0]  # a renamed value was sealed for its new key: key is that
        return value


    def values(self, keys: list[bytes]) -> list[bytes | None]:
        """values is ``[self.value(k) for k in keys]``; a plan's new values among them are read together, in
        the order they lie in their temp file (``writes.Write.values_of``), not one read each.

        The same values, or an error ``value`` raises too; with several bad keys, not always the first key's:
        the stored records are read first, then the plan's values, then everything is decrypted."""
        keys = [self.key(k) for k in keys]
        out: list[bytes | None] = [None] * len(keys)
        planned: list[int] = []
        overlay, index, snap = self.overlay, self.index, self.snap
        for i, key in enumerate(keys):
            if key in overlay:
                value = overlay[key]
                if isinstance(value, writes.Write):
                    planned.append(i)
                else:
                    out[i] = value
            else:
                revkey = index.get(key)
                if revkey is not None:
                    out[i] = mvcc.record_at(snap, revkey).kv.value
        if planned:
            for i, value in zip(planned, writes.Write.values_of([overlay[keys[i]] for i in planned]), strict=True):
                out[i] = value
        if self.crypt is not None:
            out = [v if v is None else self.crypt.open(k, v)[0] for k, v in zip(keys, out, strict=True)]
        return out


def key_text(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


def read_strings(value: bytes, kind: str, paths: list[tuple[str, ...]], api_version: str = "v1") -> list[list[str]]:
    """read_strings reads string fields of a stored object by API names (protobuf or JSON); DecodeError if it cannot.

    Core kinds (apiVersion v1: Service, Node, Endpoints) are only ever stored as v1, so their protobuf values
    skip the envelope parse (half the cost of a read over 50,000 Services).
    """
    if api_version == "v1" and bytes(value[:4]) == fields.MAGIC:
        return fields.read(value, "v1", kind, [registry.resolve_path("v1", kind, p) for p in paths])
    env = envelope.parse(value)
    if env.storage == envelope.ENCRYPTED:
        raise DecodeError(f"value is encrypted ({env.provider})")
    if env.storage not in (envelope.PROTOBUF, envelope.JSON):
        raise DecodeError("not a kubernetes object")
    api, k = env.api_version or api_version, env.kind or kind
    resolved = [registry.resolve_path(api, k, p) for p in paths]
    return fields.read(value, api, k, resolved)


def decoded(state: State, key: bytes, problems: list[str]) -> dict | None:
    """decoded is a key's value as the API shows it, or None (with a problem noted) if it does not decode."""
    key = state.key(key)
    value = state.value(key)
    if value is None:
        return None
    try:
        return decode.decode_value(value)
    except (DecodeError, ValueError) as e:
        problems.append(f"{key_text(key)}: cannot decode ({e})")
        return None


def split_csv(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def _yaml_facts(text: str, path: tuple, key: str, label: str) -> list[Fact]:
    """_yaml_facts reads the (comma-separated) values at a YAML path of a ConfigMap's data entry."""
    out = []
    for ref in find_scalars(text, path):
        shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in ref.path).lstrip(".")
        for i, item in enumerate(split_csv(str(ref.value))):
            out.append(Fact(item, key, f"{label}:{shown}" + (f"[{i}]" if "," in str(ref.value) else "")))
    return out


def _arg(component: str, flag: str) -> list[tuple]:
    """_arg selects a component flag in kubeadm's extraArgs, map form (v1beta3) or list form (v1beta4)."""
    return [(component, "extraArgs", flag), (component, "extraArgs", Match("name", flag), "value")]


def _kubeadm(state: State, facts: Facts) -> None:
    obj = decoded(state, KUBEADM_CONFIG, facts.problems)
    if obj is None:
        return
    key = key_text(state.key(KUBEADM_CONFIG))
    data = obj.get("data") or {}
    cluster = data.get("ClusterConfiguration")
    if isinstance(cluster, str):
        label = "data.ClusterConfiguration"
        try:
            for p in _arg("apiServer", "service-cluster-ip-range") + [("networking", "serviceSubnet")]:
                facts.service_ranges.extend(_yaml_facts(cluster, p, key, label))
            for p in _arg("controllerManager", "cluster-cidr") + [("networking", "podSubnet")]:
                facts.pod_ranges.extend(_yaml_facts(cluster, p, key, label))
            for version, flag in ((4, "node-cidr-mask-size-ipv4"), (6, "node-cidr-mask-size-ipv6"),
                                  (4, "node-cidr-mask-size")):
                for p in _arg("controllerManager", flag):
                    for f in _yaml_facts(cluster, p, key, label):
                        facts.node_mask_sizes.setdefault(version, f)
        except (DecodeError, PlanError) as e:
            facts.problems.append(f"{key}: {label} is not readable yaml ({e})")
    status = data.get("ClusterStatus")
    if isinstance(status, str):
        try:
            facts.apiserver_ips.extend(_yaml_facts(status, ("apiEndpoints", EACH, "advertiseAddress"), key,
                                                   "data.ClusterStatus"))
        except (DecodeError, PlanError) as e:
            facts.problems.append(f"{key}: data.ClusterStatus is not readable yaml ({e})")


def _kube_proxy(state: State, facts: Facts) -> None:
    obj = decoded(state, KUBE_PROXY, facts.problems)
    conf = ((obj or {}).get("data") or {}).get("config.conf")
    if isinstance(conf, str):
        try:
            facts.pod_ranges.extend(_yaml_facts(conf, ("clusterCIDR",), key_text(state.key(KUBE_PROXY)),
                                                "data.config.conf"))
        except (DecodeError, PlanError) as e:
            facts.problems.append(f"{key_text(state.key(KUBE_PROXY))}: data.config.conf is not readable yaml ({e})")


def _allocators(state: State, facts: Facts) -> None:
    for key in ALLOCATORS:
        obj = decoded(state, key, facts.problems)
        if obj is not None and obj.get("range"):
            facts.service_ranges.append(Fact(obj["range"], key_text(state.key(key)), "range"))


def _service_cidrs(state: State, facts: Facts) -> None:
    for key in state.keys(SERVICECIDRS):
        obj = decoded(state, key, facts.problems)
        name = key_text(key[len(state.key(SERVICECIDRS)):])
        for i, c in enumerate(((obj or {}).get("spec") or {}).get("cidrs") or []):
            facts.service_ranges.append(Fact(c, key_text(key), f"spec.cidrs[{i}]", name))


NODE_PATHS = [("spec", "podCIDRs"), ("spec", "podCIDR"), ("status", "addresses", "type"),
              ("status", "addresses", "address")]


def node_fields(value: bytes) -> tuple[str, list[str], list[tuple[str, str]]]:
    """node_fields returns a Node's pod CIDR field name and values (podCIDRs, or podCIDR before 1.16) and
    its (type, address) pairs."""
    cidrs, single, types, addrs = read_strings(value, "Node", NODE_PATHS)
    if len(types) != len(addrs):  # an address without a type (or the reverse): pair them from the decoded object
        obj = decode.decode_value(value)
        pairs = [(a.get("type", ""), a.get("address", "")) for a in (obj.get("status") or {}).get("addresses") or []]
    else:
        pairs = list(zip(types, addrs))
    return ("spec.podCIDRs", cidrs, pairs) if cidrs else ("spec.podCIDR", single, pairs)


def _nodes(state: State, facts: Facts) -> None:
    for key in state.keys(NODES):
        name = key_text(key[len(state.key(NODES)):])
        try:
            field_name, cidrs, pairs = node_fields(state.value(key))
        except (DecodeError, ValueError) as e:
            facts.problems.append(f"{key_text(key)}: cannot read the Node ({e})")
            continue
        for i, c in enumerate(cidrs):
            if c:
                facts.node_pod_cidrs.append(Fact(c, key_text(key), field_name if field_name.endswith("CIDR")
                                                else f"{field_name}[{i}]", name))
        for i, (atype, addr) in enumerate(pairs):
            if atype == "InternalIP" and addr:
                facts.node_ips.append(Fact(addr, key_text(key), f"status.addresses[{i}]", name))


def _apiserver(state: State, facts: Facts) -> None:
    for key in state.keys(MASTERLEASES):
        facts.apiserver_ips.append(Fact(key_text(key[len(state.key(MASTERLEASES)):]), key_text(key), "key"))
    endpoints = state.key(KUBERNETES_ENDPOINTS)
    for key in state.keys(MASTERLEASES) + ([endpoints] if state.has(endpoints) else []):
        try:
            ips = read_strings(state.value(key), "Endpoints", [("subsets", "addresses", "ip")])[0]
        except (DecodeError, ValueError) as e:
            facts.problems.append(f"{key_text(key)}: cannot read the Endpoints ({e})")
            continue
        for i, ip in enumerate(ips):
            facts.apiserver_ips.append(Fact(ip, key_text(key), f"subsets.addresses[{i}].ip"))


def discover(state: State) -> Facts:
    """discover reads every fact of the module docstring from ``state``.

    Read once per State and kept on it (``rewrite`` asks for the input's facts in its rails and again
    in the doctor on the planned output): treat the result as read-only.
    """
    if state.found is not None:
        return state.found
    facts = Facts(root=state.layout.root)
    _allocators(state, facts)
    _service_cidrs(state, facts)
    _kubeadm(state, facts)
    _kube_proxy(state, facts)
    _nodes(state, facts)
    _apiserver(state, facts)
    state.found = facts
    return facts


@dataclass(frozen=True)
class ServiceIPs:
    """One Service's cluster IPs as stored (``spec.clusterIPs``, or ``spec.clusterIP`` before 1.20)."""

    key: str
    namespace: str
    name: str
    type: str
    ips: tuple[str, ...]


SERVICE_PATHS = [("spec", "type"), ("spec", "clusterIPs"), ("spec", "clusterIP")]


def services(state: State, problems: list[str]) -> Iterable[ServiceIPs]:
    """services yields every live Service with its type and cluster IPs, in key order."""
    prefix = len(state.key(SERVICES))
    for key in state.keys(SERVICES):
        svc = service_at(state, key, prefix, problems)
        if svc is not None:
            yield svc


def service_fields(value: bytes) -> list[list[str]]:
    """service_fields is ``read_strings(value, "Service", SERVICE_PATHS)``.

    A protobuf Service's three fields are read straight from the message the protobuf runtime parses (what
    ``fields.read`` walks to by name, a field at a time: three times slower); anything else, and any surprise,
    takes ``read_strings``, which decides. ``tests/rewrite/test_doctor.py`` holds the two equal.
    """
    if bytes(value[:4]) == fields.MAGIC:
        got = _service_fields_fast(value)
        if got is not None:
            return got
    return read_strings(value, "Service", SERVICE_PATHS)


@functools.cache
def _service_message():
    """_service_message is the protobuf runtime's (Unknown, core/v1 Service) classes, or None."""
    from ..k8s.proto import runtime_pb2

    cls = registry.message_class("v1", "Service")
    return (runtime_pb2.Unknown, cls) if cls is not None else None


def _service_fields_fast(value: bytes) -> list[list[str]] | None:
    classes = _service_message()
    if classes is None:
        return None
    try:
        msg = classes[1].FromString(classes[0].FromString(value[4:]).raw)
        if not msg.HasField("spec"):
            return [[], [], []]
        spec = msg.spec
        return [[spec.type] if spec.HasField("type") else [], list(spec.clusterIPs),
                [spec.clusterIP] if spec.HasField("clusterIP") else []]
    except Exception:  # any parse surprise: read_strings decides (and names the problem)
        return None


def service_at(state: State, key: bytes, prefix: int, problems: list[str], value: bytes | None = None) -> ServiceIPs | None:
    """service_at reads the Service at absolute ``key`` (``prefix``: the length of the Services' key prefix),
    None with a problem noted if it does not read. ``value``: its value, already read (``State.values``)."""
    try:
        stype, ips, single = service_fields(state.value(key) if value is None else value)
    except (DecodeError, ValueError) as e:
        problems.append(f"{key_text(key)}: cannot read the Service ({e})")
        return None
    ns, _, name = key_text(key[prefix:]).partition("/")
    return ServiceIPs(key_text(key), ns, name, (stype or ["ClusterIP"])[0], tuple(ips or single))


def networks(items: Iterable[Fact]) -> list[tuple[Network, Fact]]:
    """networks pairs each fact that is a CIDR with its network, dropping the others."""
    return [(n, f) for f in items if (n := f.network()) is not None]


def ranges_by_family(items: Iterable[Fact]) -> dict[int, list[tuple[Network, Fact]]]:
    """ranges_by_family groups CIDR facts per IP version, distinct networks in first-seen order."""
    out: dict[int, list[tuple[Network, Fact]]] = {}
    for net, f in networks(items):
        seen = out.setdefault(net.version, [])
        if all(net != n for n, _ in seen):
            seen.append((net, f))
    return out
