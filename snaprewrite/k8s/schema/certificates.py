"""certificates: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "certificatesv1": {  # k8s.io.api.certificates.v1, v0.19.16..v0.36.3
        "CertificateSigningRequest": (
            "1 metadata metav1.ObjectMeta; 2 spec CertificateSigningRequestSpec; "
            "3 status CertificateSigningRequestStatus"),
        "CertificateSigningRequestCondition": (
            "1 type string!; 2 reason string; 3 message string; "
            "4 lastUpdateTime metav1.Time; 5 lastTransitionTime metav1.Time; 6 status string!"),
        "CertificateSigningRequestSpec": (
            "1 request bytes!; 2 username string; 3 uid string; 4 groups []string; "
            "5 usages []string; 6 extra {string}ExtraValue; 7 signerName string!; 8 expirationSeconds int32*"),
        "CertificateSigningRequestStatus": "1 conditions []CertificateSigningRequestCondition; 2 certificate bytes",
        "ExtraValue[]": "1 items []string!",
    },
    "certificatesv1alpha1": {  # k8s.io.api.certificates.v1alpha1, v0.27.16..v0.36.3
        "ClusterTrustBundle": "1 metadata metav1.ObjectMeta; 2 spec ClusterTrustBundleSpec",
        "ClusterTrustBundleSpec": "1 signerName string; 2 trustBundle string!",
        "PodCertificateRequest": (
            "1 metadata metav1.ObjectMeta; 2 spec PodCertificateRequestSpec; "
            "3 status PodCertificateRequestStatus"),
        "PodCertificateRequestSpec": (
            "1 signerName string!; 2 podName string!; 3 podUID string!; 4 serviceAccountName string!; "
            "5 serviceAccountUID string!; 6 nodeName string!; 7 nodeUID string!; 8 maxExpirationSeconds int32*; "
            "9 pkixPublicKey bytes!; 10 proofOfPossession bytes!"),
        "PodCertificateRequestStatus": (
            "1 conditions []metav1.Condition; 2 certificateChain string; 4 notBefore metav1.Time*; "
            "5 beginRefreshAt metav1.Time*; 6 notAfter metav1.Time*"),
    },
    "certificatesv1beta1": {  # k8s.io.api.certificates.v1beta1, v0.16.15..v0.36.3
        "CertificateSigningRequest": (
            "1 metadata metav1.ObjectMeta; 2 spec CertificateSigningRequestSpec; "
            "3 status CertificateSigningRequestStatus"),
        "CertificateSigningRequestCondition": (
            "1 type string!; 2 reason string; 3 message string; "
            "4 lastUpdateTime metav1.Time; 5 lastTransitionTime metav1.Time; 6 status string!"),
        "CertificateSigningRequestSpec": (
            "1 request bytes!; 2 username string; 3 uid string; 4 groups []string; "
            "5 usages []string; 6 extra {string}ExtraValue; 7 signerName string*; 8 expirationSeconds int32*"),
        "CertificateSigningRequestStatus": "1 conditions []CertificateSigningRequestCondition; 2 certificate bytes",
        "ExtraValue[]": "1 items []string!",
        "ClusterTrustBundle": "1 metadata metav1.ObjectMeta; 2 spec ClusterTrustBundleSpec",
        "ClusterTrustBundleSpec": "1 signerName string; 2 trustBundle string!",
        "PodCertificateRequest": (
            "1 metadata metav1.ObjectMeta; 2 spec PodCertificateRequestSpec; "
            "3 status PodCertificateRequestStatus"),
        "PodCertificateRequestSpec": (
            "1 signerName string!; 2 podName string!; 3 podUID string!; 4 serviceAccountName string!; "
            "5 serviceAccountUID string!; 6 nodeName string!; 7 nodeUID string!; 8 maxExpirationSeconds int32*; "
            "9 pkixPublicKey bytes!; 10 proofOfPossession bytes!; 11 unverifiedUserAnnotations {string}string; "
            "12 stubPKCS10Request bytes!"),
        "PodCertificateRequestStatus": (
            "1 conditions []metav1.Condition; 2 certificateChain string; 4 notBefore metav1.Time*; "
            "5 beginRefreshAt metav1.Time*; 6 notAfter metav1.Time*"),
    },
}
