"""Files on the control-plane hosts that carry the CIDRs too (static pod manifests), edited as text.

Sits beside ``rewrite`` (it uses ``rewrite.cidr`` and ``rewrite.yamledit``), never below it: nothing in
bbolt, etcd, k8s or rewrite imports it.
"""
