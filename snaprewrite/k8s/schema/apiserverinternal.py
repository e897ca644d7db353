"""apiserverinternal: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "apiserverinternalv1alpha1": {  # k8s.io.api.apiserverinternal.v1alpha1, v0.20.15..v0.36.3
        "ServerStorageVersion": (
            "1 apiServerID string; 2 encodingVersion string; 3 decodableVersions []string; "
            "4 servedVersions []string"),
        "StorageVersion": "1 metadata metav1.ObjectMeta; 2 spec StorageVersionSpec; 3 status StorageVersionStatus",
        "StorageVersionCondition": (
            "1 type string!; 2 status string!; 3 observedGeneration int64; "
            "4 lastTransitionTime metav1.Time; 5 reason string!; 6 message string"),
        "StorageVersionSpec": "",
        "StorageVersionStatus": (
            "1 storageVersions []ServerStorageVersion; 2 commonEncodingVersion string*; "
            "3 conditions []StorageVersionCondition"),
    },
}
