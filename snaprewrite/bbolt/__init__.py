"""The bbolt file format: page layout, tree walking, copy-on-write writing, structural check. Knows nothing of etcd."""
