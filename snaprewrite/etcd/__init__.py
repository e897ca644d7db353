"""etcd's use of bbolt: snapshot files and their sha256 trailer, revision keys, MVCC records. Knows nothing of Kubernetes."""
