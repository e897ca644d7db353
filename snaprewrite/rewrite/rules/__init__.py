"""One module per kind of object the rewrite changes; ``RULES`` runs them in this order.

A rule module has ``name`` (for ``--only``), ``kind``, ``prefixes`` (the registry keys it loads,
relative to the key root: ``services/specs/``; the planner joins ``ctx.layout``'s root) and
``run(ctx)``, which appends Edits and Warnings to ``ctx.plan`` (``renames = True`` when its
objects may change key). Later rules use what
earlier ones recorded in the context: services fill ``moved_ips`` and ``service_ips`` for the
allocator bitmap, the IPAddress objects and kubelet's clusterDNS.

``--exclude`` is read by the planner only: it sets ``Object.excluded`` on the loaded objects it names
before any rule runs, and refuses a plan that changes one anyway, unless the object's kind is in a
rule's ``follows`` (kinds that move with the object they belong to). What each rule does with an
excluded object (the leftovers report the old addresses of every marked object, and of what a rule adds to
``ctx.excluded``, as "(--exclude)"):

* services: still read; no clusterIP/clusterIPs check; with cluster IPs: reported excluded, the IPs
  stay allocated (``service_ips``) and kept (``kept_ips``: its IPAddress and kubelet clusterDNS stay).
* nodes, ranges (``*serviceips``), servicecidrs, configmaps (the known kube-system ones): not read,
  reported excluded.
* ipaddresses (``follows``): an IPAddress follows its Service; one whose IP is kept is reported excluded.
* calico: an IPPool is still read for its CIDR, reported excluded, not moved (nor its blocks,
  affinities, handles, which ``follows`` its pool); a Node keeps its annotations.
* cilium: a CiliumNode is not read, reported excluded; cilium-config is read for its pools, not
  changed; a Node keeps its annotations.
* flannel: kube-flannel-cfg is read for its pools, not changed.
* kuberouter: a Node's annotations are read for the pools, not changed.
* cniconfig: a DaemonSet, Deployment or conflist ConfigMap is reported excluded when it would change.
"""

from . import (
         calico,
         cilium,
         cniconfig,
         configmaps,
         flannel,
         ipaddresses,
         kuberouter,
         leftovers,
         nodes,
         ranges,
         servicecidrs,
         services,
)

# The CNI rules (calico ... kuberouter) run after nodes: they edit Nodes the nodes rule may have edited.
RULES = (services, nodes, ranges, servicecidrs, ipaddresses, configmaps, calico, cilium, flannel, kuberouter,
         cniconfig, leftovers)
