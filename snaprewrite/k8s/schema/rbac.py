"""rbac: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "rbacv1": {  # k8s.io.api.rbac.v1, v0.16.15..v0.36.3
        "AggregationRule": "1 clusterRoleSelectors []metav1.LabelSelector",
        "ClusterRole": "1 metadata metav1.ObjectMeta; 2 rules []PolicyRule!; 3 aggregationRule AggregationRule*",
        "ClusterRoleBinding": "1 metadata metav1.ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef",
        "PolicyRule": (
            "1 verbs []string!; 2 apiGroups []string; 3 resources []string; 4 resourceNames []string; "
            "5 nonResourceURLs []string"),
        "Role": "1 metadata metav1.ObjectMeta; 2 rules []PolicyRule!",
        "RoleBinding": "1 metadata metav1.ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef",
        "RoleRef": "1 apiGroup string!; 2 kind string!; 3 name string!",
        "Subject": "1 kind string!; 2 apiGroup string; 3 name string!; 4 namespace string",
    },
    "rbacv1alpha1": {  # k8s.io.api.rbac.v1alpha1, v0.16.15..v0.36.3
        "AggregationRule": "1 clusterRoleSelectors []metav1.LabelSelector",
        "ClusterRole": "1 metadata metav1.ObjectMeta; 2 rules []PolicyRule!; 3 aggregationRule AggregationRule*",
        "ClusterRoleBinding": "1 metadata metav1.ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef",
        "PolicyRule": (
            "1 verbs []string!; 3 apiGroups []string; 4 resources []string; 5 resourceNames []string; "
            "6 nonResourceURLs []string"),
        "Role": "1 metadata metav1.ObjectMeta; 2 rules []PolicyRule!",
        "RoleBinding": "1 metadata metav1.ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef",
        "RoleRef": "1 apiGroup string!; 2 kind string!; 3 name string!",
        "Subject": "1 kind string!; 2 apiVersion string; 3 name string!; 4 namespace string",
    },
    "rbacv1beta1": {  # k8s.io.api.rbac.v1beta1, v0.16.15..v0.36.3
        "AggregationRule": "1 clusterRoleSelectors []metav1.LabelSelector",
        "ClusterRole": "1 metadata metav1.ObjectMeta; 2 rules []PolicyRule!; 3 aggregationRule AggregationRule*",
        "ClusterRoleBinding": "1 metadata metav1.ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef",
        "PolicyRule": (
            "1 verbs []string!; 2 apiGroups []string; 3 resources []string; 4 resourceNames []string; "
            "5 nonResourceURLs []string"),
        "Role": "1 metadata metav1.ObjectMeta; 2 rules []PolicyRule!",
        "RoleBinding": "1 metadata metav1.ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef",
        "RoleRef": "1 apiGroup string!; 2 kind string!; 3 name string!",
        "Subject": "1 kind string!; 2 apiGroup string; 3 name string!; 4 namespace string",
    },
}
