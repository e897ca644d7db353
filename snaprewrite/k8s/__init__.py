"""Kubernetes' use of etcd values: storage envelope, protobuf schemas, decoding, field splicing. Knows nothing of CIDR moves."""
