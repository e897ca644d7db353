"""networking: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "networkingv1": {  # k8s.io.api.networking.v1, v0.16.15..v0.36.3
        "IPBlock": "1 cidr string!; 2 except []string",
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
        "HTTPIngressPath": "1 path string; 2 backend IngressBackend; 3 pathType string*!",
        "HTTPIngressRuleValue": "1 paths []HTTPIngressPath!",
        "Ingress": "1 metadata metav1.ObjectMeta; 2 spec IngressSpec; 3 status IngressStatus",
        "IngressBackend": "3 resource corev1.TypedLocalObjectReference*; 4 service IngressServiceBackend*",
        "IngressClass": "1 metadata metav1.ObjectMeta; 2 spec IngressClassSpec",
        "IngressClassSpec": "1 controller string; 2 parameters IngressClassParametersReference*",
        "IngressRule": "1 host string; 2 ingressRuleValue IngressRuleValue^",
        "IngressRuleValue": "1 http HTTPIngressRuleValue*",
        "IngressServiceBackend": "1 name string!; 2 port ServiceBackendPort",
        "IngressSpec": "1 defaultBackend IngressBackend*; 2 tls []IngressTLS; 3 rules []IngressRule; 4 ingressClassName string*",
        "IngressStatus": "1 loadBalancer IngressLoadBalancerStatus",
        "IngressTLS": "1 hosts []string; 2 secretName string",
        "ServiceBackendPort": "1 name string; 2 number int32",
        # scope (1.21+) has no omitempty but is defaulted to "Cluster" on create and on read: absent means a
        # 1.19/1.20 writer, whose API had no such field, so it is left out like an omitempty one
        "IngressClassParametersReference": (
            "1 aPIGroup=apiGroup string*; 2 kind string!; 3 name string!; 4 scope string*; "
            "5 namespace string*"),
        "NetworkPolicyStatus": "1 conditions []metav1.Condition",
        "IngressLoadBalancerIngress": "1 ip string; 2 hostname string; 4 ports []IngressPortStatus",
        "IngressLoadBalancerStatus": "1 ingress []IngressLoadBalancerIngress",
        "IngressPortStatus": "1 port int32!; 2 protocol string!; 3 error string*",
        "IPAddress": "1 metadata metav1.ObjectMeta; 2 spec IPAddressSpec",
        "IPAddressSpec": "1 parentRef ParentReference*",
        "ParentReference": "1 group string; 2 resource string; 3 namespace string; 4 name string",
        "ServiceCIDR": "1 metadata metav1.ObjectMeta; 2 spec ServiceCIDRSpec; 3 status ServiceCIDRStatus",
        "ServiceCIDRSpec": "1 cidrs []string",
        "ServiceCIDRStatus": "1 conditions []metav1.Condition",
    },
    "networkingv1alpha1": {  # k8s.io.api.networking.v1alpha1, v0.25.16..v0.33.13
        "ClusterCIDR": "1 metadata metav1.ObjectMeta; 2 spec ClusterCIDRSpec",
        "ClusterCIDRSpec": "1 nodeSelector corev1.NodeSelector*; 2 perNodeHostBits int32!; 3 ipv4 string!; 4 ipv6 string!",
        "IPAddress": "1 metadata metav1.ObjectMeta; 2 spec IPAddressSpec",
        "IPAddressSpec": "1 parentRef ParentReference*",
        "ParentReference": "1 group string; 2 resource string; 3 namespace string; 4 name string; 5 uid string",
        "ServiceCIDR": "1 metadata metav1.ObjectMeta; 2 spec ServiceCIDRSpec; 3 status ServiceCIDRStatus",
        "ServiceCIDRSpec": "1 cidrs []string",
        "ServiceCIDRStatus": "1 conditions []metav1.Condition",
    },
    "networkingv1beta1": {  # k8s.io.api.networking.v1beta1, v0.16.15..v0.36.3
        "HTTPIngressPath": "1 path string; 2 backend IngressBackend; 3 pathType string*",
        "HTTPIngressRuleValue": "1 paths []HTTPIngressPath!",
        "Ingress": "1 metadata metav1.ObjectMeta; 2 spec IngressSpec; 3 status IngressStatus",
        "IngressBackend": "1 serviceName string; 2 servicePort intstr.IntOrString; 3 resource corev1.TypedLocalObjectReference*",
        "IngressRule": "1 host string; 2 ingressRuleValue IngressRuleValue^",
        "IngressRuleValue": "1 http HTTPIngressRuleValue*",
        "IngressSpec": "1 backend IngressBackend*; 2 tls []IngressTLS; 3 rules []IngressRule; 4 ingressClassName string*",
        "IngressStatus": "1 loadBalancer IngressLoadBalancerStatus",
        "IngressTLS": "1 hosts []string; 2 secretName string",
        "IngressClass": "1 metadata metav1.ObjectMeta; 2 spec IngressClassSpec",
        "IngressClassSpec": "1 controller string; 2 parameters IngressClassParametersReference*",
        # scope (1.21+) has no omitempty but is defaulted to "Cluster" on create and on read: absent means a
        # 1.19/1.20 writer, whose API had no such field, so it is left out like an omitempty one
        "IngressClassParametersReference": (
            "1 aPIGroup=apiGroup string*; 2 kind string!; 3 name string!; 4 scope string*; "
            "5 namespace string*"),
        "IngressLoadBalancerIngress": "1 ip string; 2 hostname string; 4 ports []IngressPortStatus",
        "IngressLoadBalancerStatus": "1 ingress []IngressLoadBalancerIngress",
        "IngressPortStatus": "1 port int32!; 2 protocol string!; 3 error string*",
        "IPAddress": "1 metadata metav1.ObjectMeta; 2 spec IPAddressSpec",
        "IPAddressSpec": "1 parentRef ParentReference*",
        "ParentReference": "1 group string; 2 resource string; 3 namespace string; 4 name string",
        "ServiceCIDR": "1 metadata metav1.ObjectMeta; 2 spec ServiceCIDRSpec; 3 status ServiceCIDRStatus",
        "ServiceCIDRSpec": "1 cidrs []string",
        "ServiceCIDRStatus": "1 conditions []metav1.Condition",
    },
}
