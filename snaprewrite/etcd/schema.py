"""etcd's names inside bbolt, declared once: bucket names and meta keys, with the etcd version of each."""

# Buckets of etcd's backend (server/storage/schema/bucket.go).
KEY = b"key"  # MVCC records: revision -> mvccpb.KeyValue
META = b"meta"  # consistent index, term, compaction state
LEASE = b"lease"
ALARM = b"alarm"
CLUSTER = b"cluster"
MEMBERS = b"members"
MEMBERS_REMOVED = b"members_removed"
AUTH = b"auth"
AUTH_USERS = b"authUsers"
AUTH_ROLES = b"authRoles"
ALL_BUCKETS = (KEY, META, LEASE, ALARM, CLUSTER, MEMBERS, MEMBERS_REMOVED, AUTH, AUTH_USERS, AUTH_ROLES)

# Keys of the meta bucket.
CONSISTENT_INDEX = b"consistent_index"  # 8-byte big-endian
TERM = b"term"  # 8-byte big-endian, since 3.5
CONF_STATE = b"confState"  # JSON, since 3.5
SCHEDULED_COMPACT_REV = b"scheduledCompactRev"  # 17-byte revision (sub 0)
FINISHED_COMPACT_REV = b"finishedCompactRev"  # 17-byte revision (sub 0)
STORAGE_VERSION = b"storageVersion"  # since 3.6
