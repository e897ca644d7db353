"""snaprewrite: read and rewrite etcd snapshots of Kubernetes clusters offline.

Layers, bottom up (data flows one way, up):
  bbolt/    the bbolt file format (pages, trees, copy-on-write writer, structural check)
  etcd/     etcd's use of bbolt (snapshot trailer, revision keys, MVCC records)
  k8s/      Kubernetes' use of etcd values (envelope, protobuf schemas, decoding, field splicing)
  rewrite/  the CIDR migration (address mapping, per-kind rules, plan, apply)
  report.py / cli.py  presentation
"""

import importlib.util
import sys

__version__ = "0.1.0"


def lazy_module(name: str):
    """lazy_module returns module ``name``, executed on its first attribute access (``snaprewrite --help``
    and the light commands do not pay for the layers they never touch)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
