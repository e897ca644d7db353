"""policy: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "policyv1": {  # k8s.io.api.policy.v1, v0.21.14..v0.36.3
        "PodDisruptionBudget": (
            "1 metadata metav1.ObjectMeta; 2 spec PodDisruptionBudgetSpec; "
            "3 status PodDisruptionBudgetStatus"),
        "PodDisruptionBudgetSpec": (
            "1 minAvailable intstr.IntOrString*; 2 selector metav1.LabelSelector*; "
            "3 maxUnavailable intstr.IntOrString*; 4 unhealthyPodEvictionPolicy string*"),
        "PodDisruptionBudgetStatus": (
            "1 observedGeneration int64; 2 disruptedPods {string}metav1.Time; "
            "3 disruptionsAllowed int32!; 4 currentHealthy int32!; 5 desiredHealthy int32!; 6 expectedPods int32!; "
            "7 conditions []metav1.Condition"),
        "Eviction": "1 metadata metav1.ObjectMeta; 2 deleteOptions metav1.DeleteOptions*",
    },
    "policyv1beta1": {  # k8s.io.api.policy.v1beta1, v0.16.15..v0.36.3
        "AllowedCSIDriver": "1 name string!",
        "AllowedFlexVolume": "1 driver string!",
        "AllowedHostPath": "1 pathPrefix string; 2 readOnly bool",
        "Eviction": "1 metadata metav1.ObjectMeta; 2 deleteOptions metav1.DeleteOptions*",
        "FSGroupStrategyOptions": "1 rule string; 2 ranges []IDRange",
        "HostPortRange": "1 min int32!; 2 max int32!",
        "IDRange": "1 min int64!; 2 max int64!",
        "PodDisruptionBudget": (
            "1 metadata metav1.ObjectMeta; 2 spec PodDisruptionBudgetSpec; "
            "3 status PodDisruptionBudgetStatus"),
        "PodDisruptionBudgetSpec": (
            "1 minAvailable intstr.IntOrString*; 2 selector metav1.LabelSelector*; "
            "3 maxUnavailable intstr.IntOrString*; 4 unhealthyPodEvictionPolicy string*"),
        "PodDisruptionBudgetStatus": (
            "1 observedGeneration int64; 2 disruptedPods {string}metav1.Time; "
            "3 disruptionsAllowed int32!; 4 currentHealthy int32!; 5 desiredHealthy int32!; 6 expectedPods int32!; "
            "7 conditions []metav1.Condition"),
        "PodSecurityPolicy": "1 metadata metav1.ObjectMeta; 2 spec PodSecurityPolicySpec",
        "PodSecurityPolicySpec": (
            "1 privileged bool; 2 defaultAddCapabilities []string; 3 requiredDropCapabilities []string; "
            "4 allowedCapabilities []string; 5 volumes []string; 6 hostNetwork bool; 7 hostPorts []HostPortRange; "
            "8 hostPID bool; 9 hostIPC bool; 10 seLinux SELinuxStrategyOptions; 11 runAsUser RunAsUserStrategyOptions; "
            "12 supplementalGroups SupplementalGroupsStrategyOptions; 13 fsGroup FSGroupStrategyOptions; "
            "14 readOnlyRootFilesystem bool; 15 defaultAllowPrivilegeEscalation bool*; 16 allowPrivilegeEscalation bool*; "
            "17 allowedHostPaths []AllowedHostPath; 18 allowedFlexVolumes []AllowedFlexVolume; "
            "19 allowedUnsafeSysctls []string; 20 forbiddenSysctls []string; 21 allowedProcMountTypes []string; "
            "22 runAsGroup RunAsGroupStrategyOptions*; 23 allowedCSIDrivers []AllowedCSIDriver; "
            "24 runtimeClass RuntimeClassStrategyOptions*"),
        "RunAsGroupStrategyOptions": "1 rule string!; 2 ranges []IDRange",
        "RunAsUserStrategyOptions": "1 rule string!; 2 ranges []IDRange",
        "RuntimeClassStrategyOptions": "1 allowedRuntimeClassNames []string!; 2 defaultRuntimeClassName string*",
        "SELinuxStrategyOptions": "1 rule string!; 2 seLinuxOptions corev1.SELinuxOptions*",
        "SupplementalGroupsStrategyOptions": "1 rule string; 2 ranges []IDRange",
    },
}
