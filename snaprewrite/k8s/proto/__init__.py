"""Kubernetes protobuf schemas (written for snaprewrite, field numbers checked against Kubernetes' generated.proto).

Each ``.proto`` here sits beside its generated ``*_pb2.py`` (``make proto`` regenerates them). The
generated modules import one another as ``snaprewrite.k8s.proto.<name>_pb2``; the runtime needs only
the ``protobuf`` package. Only the messages snaprewrite reads or builds are declared: any other field
on the wire is kept as an unknown field and never breaks decoding.
"""
