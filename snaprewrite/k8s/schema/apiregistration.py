"""apiregistration: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "apiregistrationv1": {  # k8s.io.kube_aggregator.pkg.apis.apiregistration.v1, v0.16.15..v0.36.2
        "APIService": "1 metadata metav1.ObjectMeta; 2 spec APIServiceSpec; 3 status APIServiceStatus",
        "APIServiceCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "APIServiceSpec": (
            "1 service ServiceReference*; 2 group string; 3 version string; 4 insecureSkipTLSVerify bool; "
            "5 caBundle bytes; 7 groupPriorityMinimum int32!; 8 versionPriority int32!"),
        "APIServiceStatus": "1 conditions []APIServiceCondition",
        "ServiceReference": "1 namespace string; 2 name string; 3 port int32*",
    },
    "apiregistrationv1beta1": {  # k8s.io.kube_aggregator.pkg.apis.apiregistration.v1beta1, v0.16.15..v0.36.2
        "APIService": "1 metadata metav1.ObjectMeta; 2 spec APIServiceSpec; 3 status APIServiceStatus",
        "APIServiceCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "APIServiceSpec": (
            "1 service ServiceReference*; 2 group string; 3 version string; 4 insecureSkipTLSVerify bool; "
            "5 caBundle bytes; 7 groupPriorityMinimum int32!; 8 versionPriority int32!"),
        "APIServiceStatus": "1 conditions []APIServiceCondition",
        "ServiceReference": "1 namespace string; 2 name string; 3 port int32*",
    },
}
