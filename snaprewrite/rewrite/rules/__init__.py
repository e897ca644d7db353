"""One module per kind of object the rewrite changes; ``RULES`` runs them in this order.

A rule module has ``name`` (for ``--only``), ``kind``, ``prefixes`` (the registry keys it loads,
relative to the key root: ``services/specs/``; the planner joins ``ctx.layout``'s root) and
``run(ctx)``, which appends Edits and Warnings to ``ctx.plan`` (``renames = True`` when its
objects may change key). Later rules use what
earlier ones recorded in the context: services fill ``moved_ips`` and ``service_ips`` for the
allocator bitmap, the IPAddress objects and kubelet's clusterDNS.
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
