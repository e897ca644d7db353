"""node: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "nodev1": {  # k8s.io.api.node.v1, v0.20.15..v0.36.3
        "Overhead": "1 podFixed {string}resource.Quantity",
        "RuntimeClass": "1 metadata metav1.ObjectMeta; 2 handler string!; 3 overhead Overhead*; 4 scheduling Scheduling*",
        "Scheduling": "1 nodeSelector {string}string; 2 tolerations []corev1.Toleration",
    },
    "nodev1alpha1": {  # k8s.io.api.node.v1alpha1, v0.16.15..v0.36.3
        "Overhead": "1 podFixed {string}resource.Quantity",
        "RuntimeClass": "1 metadata metav1.ObjectMeta; 2 spec RuntimeClassSpec",
        "RuntimeClassSpec": "1 runtimeHandler string!; 2 overhead Overhead*; 3 scheduling Scheduling*",
        "Scheduling": "1 nodeSelector {string}string; 2 tolerations []corev1.Toleration",
    },
    "nodev1beta1": {  # k8s.io.api.node.v1beta1, v0.16.15..v0.36.3
        "Overhead": "1 podFixed {string}resource.Quantity",
        "RuntimeClass": "1 metadata metav1.ObjectMeta; 2 handler string!; 3 overhead Overhead*; 4 scheduling Scheduling*",
        "Scheduling": "1 nodeSelector {string}string; 2 tolerations []corev1.Toleration",
    },
}
