"""extensions: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "extensionsv1beta1": {  # k8s.io.api.extensions.v1beta1, v0.16.15..v0.36.3
        "AllowedCSIDriver": "1 name string!",
        "AllowedFlexVolume": "1 driver string!",
        "AllowedHostPath": "1 pathPrefix string; 2 readOnly bool",
        "DaemonSet": "1 metadata metav1.ObjectMeta; 2 spec DaemonSetSpec; 3 status DaemonSetStatus",
        "DaemonSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "DaemonSetSpec": (
            "1 selector metav1.LabelSelector*; 2 template corev1.PodTemplateSpec; "
            "3 updateStrategy DaemonSetUpdateStrategy; 4 minReadySeconds int32; 5 templateGeneration int64; "
            "6 revisionHistoryLimit int32*"),
        "DaemonSetStatus": (
            "1 currentNumberScheduled int32!; 2 numberMisscheduled int32!; 3 desiredNumberScheduled int32!; "
            "4 numberReady int32!; 5 observedGeneration int64; 6 updatedNumberScheduled int32; 7 numberAvailable int32; "
            "8 numberUnavailable int32; 9 collisionCount int32*; 10 conditions []DaemonSetCondition"),
        "DaemonSetUpdateStrategy": "1 type string; 2 rollingUpdate RollingUpdateDaemonSet*",
        "Deployment": "1 metadata metav1.ObjectMeta; 2 spec DeploymentSpec; 3 status DeploymentStatus",
        "DeploymentCondition": (
            "1 type string!; 2 status string!; 4 reason string; 5 message string; "
            "6 lastUpdateTime metav1.Time; 7 lastTransitionTime metav1.Time"),
        "DeploymentSpec": (
            "1 replicas int32*; 2 selector metav1.LabelSelector*; 3 template corev1.PodTemplateSpec; "
            "4 strategy DeploymentStrategy; 5 minReadySeconds int32; 6 revisionHistoryLimit int32*; 7 paused bool; "
            "8 rollbackTo RollbackConfig*; 9 progressDeadlineSeconds int32*"),
        "DeploymentStatus": (
            "1 observedGeneration int64; 2 replicas int32; 3 updatedReplicas int32; 4 availableReplicas int32; "
            "5 unavailableReplicas int32; 6 conditions []DeploymentCondition; 7 readyReplicas int32; 8 collisionCount int32*; "
            "9 terminatingReplicas int32*"),
        "DeploymentStrategy": "1 type string; 2 rollingUpdate RollingUpdateDeployment*",
        "FSGroupStrategyOptions": "1 rule string; 2 ranges []IDRange",
        "HTTPIngressPath": "1 path string; 2 backend IngressBackend; 3 pathType string*",
        "HTTPIngressRuleValue": "1 paths []HTTPIngressPath!",
        "HostPortRange": "1 min int32!; 2 max int32!",
        "IDRange": "1 min int64!; 2 max int64!",
        "IPBlock": "1 cidr string!; 2 except []string",
        "Ingress": "1 metadata metav1.ObjectMeta; 2 spec IngressSpec; 3 status IngressStatus",
        "IngressBackend": "1 serviceName string; 2 servicePort intstr.IntOrString; 3 resource corev1.TypedLocalObjectReference*",
        "IngressRule": "1 host string; 2 ingressRuleValue IngressRuleValue^",
        "IngressRuleValue": "1 http HTTPIngressRuleValue*",
        "IngressSpec": "1 backend IngressBackend*; 2 tls []IngressTLS; 3 rules []IngressRule; 4 ingressClassName string*",
        "IngressStatus": "1 loadBalancer IngressLoadBalancerStatus",
        "IngressTLS": "1 hosts []string; 2 secretName string",
        "NetworkPolicy": "1 metadata metav1.ObjectMeta; 2 spec NetworkPolicySpec; 3 status NetworkPolicyStatus",
        "NetworkPolicyEgressRule": "1 ports []NetworkPolicyPort; 2 to []NetworkPolicyPeer",
        "NetworkPolicyIngressRule": "1 ports []NetworkPolicyPort; 2 from []NetworkPolicyPeer",
        "NetworkPolicyPeer": (
            "1 podSelector metav1.LabelSelector*; 2 namespaceSelector metav1.LabelSelector*; "
            "3 ipBlock IPBlock*"),
        "NetworkPolicyPort": "1 protocol string*; 2 port intstr.IntOrString*; 3 endPort int32*",
        "NetworkPolicySpec": (
            "1 podSelector metav1.LabelSelector; 2 ingress []NetworkPolicyIngressRule; "
            "3 egress []NetworkPolicyEgressRule; 4 policyTypes []string"),
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
        "ReplicaSet": "1 metadata metav1.ObjectMeta; 2 spec ReplicaSetSpec; 3 status ReplicaSetStatus",
        "ReplicaSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "ReplicaSetSpec": (
            "1 replicas int32*; 2 selector metav1.LabelSelector*; 3 template corev1.PodTemplateSpec; "
            "4 minReadySeconds int32"),
        "ReplicaSetStatus": (
            "1 replicas int32!; 2 fullyLabeledReplicas int32; 3 observedGeneration int64; "
            "4 readyReplicas int32; 5 availableReplicas int32; 6 conditions []ReplicaSetCondition; 7 terminatingReplicas int32*"),
        "RollbackConfig": "1 revision int64",
        "RollingUpdateDaemonSet": "1 maxUnavailable intstr.IntOrString*; 2 maxSurge intstr.IntOrString*",
        "RollingUpdateDeployment": "1 maxUnavailable intstr.IntOrString*; 2 maxSurge intstr.IntOrString*",
        "RunAsGroupStrategyOptions": "1 rule string!; 2 ranges []IDRange",
        "RunAsUserStrategyOptions": "1 rule string!; 2 ranges []IDRange",
        "RuntimeClassStrategyOptions": "1 allowedRuntimeClassNames []string!; 2 defaultRuntimeClassName string*",
        "SELinuxStrategyOptions": "1 rule string!; 2 seLinuxOptions corev1.SELinuxOptions*",
        "Scale": "1 metadata metav1.ObjectMeta; 2 spec ScaleSpec; 3 status ScaleStatus",
        "ScaleSpec": "1 replicas int32",
        "ScaleStatus": "1 replicas int32!; 2 selector {string}string; 3 targetSelector string",
        "SupplementalGroupsStrategyOptions": "1 rule string; 2 ranges []IDRange",
        "NetworkPolicyStatus": "1 conditions []metav1.Condition",
        "IngressLoadBalancerIngress": "1 ip string; 2 hostname string; 4 ports []IngressPortStatus",
        "IngressLoadBalancerStatus": "1 ingress []IngressLoadBalancerIngress",
        "IngressPortStatus": "1 port int32!; 2 protocol string!; 3 error string*",
    },
}
