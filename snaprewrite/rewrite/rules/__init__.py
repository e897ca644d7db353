"""One module per kind of object the rewrite changes; ``RULES`` runs them in this order.

A rule module has ``name`` (for ``--only``), ``kind``, ``prefixes`` (the registry keys it loads) and
``run(ctx)``, which appends Edits and Warnings to ``ctx.plan``. Later rules may use what earlier
ones recorded in the context (e.g. ``moved_ips``).
"""

from . import nodes, services

RULES = (services, nodes)
