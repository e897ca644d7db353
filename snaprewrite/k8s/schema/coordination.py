"""coordination: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "coordinationv1": {  # k8s.io.api.coordination.v1, v0.16.15..v0.36.3
        "Lease": "1 metadata metav1.ObjectMeta; 2 spec LeaseSpec",
        "LeaseSpec": (
            "1 holderIdentity string*; 2 leaseDurationSeconds int32*; 3 acquireTime metav1.MicroTime*; "
            "4 renewTime metav1.MicroTime*; 5 leaseTransitions int32*; 6 strategy string*; 7 preferredHolder string*"),
    },
    "coordinationv1alpha1": {  # k8s.io.api.coordination.v1alpha1, v0.31.14..v0.31.14
        "LeaseCandidate": "1 metadata metav1.ObjectMeta; 2 spec LeaseCandidateSpec",
        "LeaseCandidateSpec": (
            "1 leaseName string!; 2 pingTime metav1.MicroTime*; 3 renewTime metav1.MicroTime*; "
            "4 binaryVersion string; 5 emulationVersion string; 6 preferredStrategies []string"),
    },
    "coordinationv1alpha2": {  # k8s.io.api.coordination.v1alpha2, v0.32.13..v0.36.3
        "LeaseCandidate": "1 metadata metav1.ObjectMeta; 2 spec LeaseCandidateSpec",
        "LeaseCandidateSpec": (
            "1 leaseName string!; 2 pingTime metav1.MicroTime*; 3 renewTime metav1.MicroTime*; "
            "4 binaryVersion string!; 5 emulationVersion string; 6 strategy string"),
    },
    "coordinationv1beta1": {  # k8s.io.api.coordination.v1beta1, v0.16.15..v0.36.3
        "Lease": "1 metadata metav1.ObjectMeta; 2 spec LeaseSpec",
        "LeaseSpec": (
            "1 holderIdentity string*; 2 leaseDurationSeconds int32*; 3 acquireTime metav1.MicroTime*; "
            "4 renewTime metav1.MicroTime*; 5 leaseTransitions int32*; 6 strategy string*; 7 preferredHolder string*"),
        "LeaseCandidate": "1 metadata metav1.ObjectMeta; 2 spec LeaseCandidateSpec",
        "LeaseCandidateSpec": (
            "1 leaseName string!; 2 pingTime metav1.MicroTime*; 3 renewTime metav1.MicroTime*; "
            "4 binaryVersion string!; 5 emulationVersion string; 6 strategy string"),
    },
}
