"""storagemigration: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "storagemigrationv1alpha1": {  # k8s.io.api.storagemigration.v1alpha1, v0.30.14..v0.34.10
        "GroupVersionResource": "1 group string; 2 version string; 3 resource string",
        "MigrationCondition": (
            "1 type string!; 2 status string!; 3 lastUpdateTime metav1.Time; 4 reason string; "
            "5 message string"),
        "StorageVersionMigration": (
            "1 metadata metav1.ObjectMeta; 2 spec StorageVersionMigrationSpec; "
            "3 status StorageVersionMigrationStatus"),
        "StorageVersionMigrationSpec": "1 resource GroupVersionResource; 2 continueToken string",
        "StorageVersionMigrationStatus": "1 conditions []MigrationCondition; 2 resourceVersion string",
    },
    "storagemigrationv1beta1": {  # k8s.io.api.storagemigration.v1beta1, v0.35.7..v0.36.3
        "StorageVersionMigration": (
            "1 metadata metav1.ObjectMeta; 2 spec StorageVersionMigrationSpec; "
            "3 status StorageVersionMigrationStatus"),
        "StorageVersionMigrationSpec": "1 resource metav1.GroupResource",
        "StorageVersionMigrationStatus": "1 conditions []metav1.Condition; 2 resourceVersion string",
    },
}
