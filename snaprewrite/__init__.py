"""snaprewrite: read and rewrite etcd snapshots of Kubernetes clusters offline.

Layers, bottom up (data flows one way, up):
  bbolt/    the bbolt file format (pages, trees, copy-on-write writer, structural check)
  etcd/     etcd's use of bbolt (snapshot trailer, revision keys, MVCC records)
  k8s/      Kubernetes' use of etcd values (envelope, protobuf schemas, decoding, field splicing)
  rewrite/  the CIDR migration (address mapping, per-kind rules, plan, apply)
  report.py / cli.py  presentation
"""

__version__ = "0.1.0"
