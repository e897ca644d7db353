"""discovery: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "discoveryv1": {  # k8s.io.api.discovery.v1, v0.21.14..v0.36.3
        "Endpoint": (
            "1 addresses []string!; 2 conditions EndpointConditions; 3 hostname string*; "
            "4 targetRef corev1.ObjectReference*; 5 deprecatedTopology {string}string; 6 nodeName string*; 7 zone string*; "
            "8 hints EndpointHints*"),
        "EndpointConditions": "1 ready bool*; 2 serving bool*; 3 terminating bool*",
        "EndpointHints": "1 forZones []ForZone; 2 forNodes []ForNode",
        "EndpointPort": "1 name string*; 2 protocol string*; 3 port int32*; 4 appProtocol string*",
        "EndpointSlice": "1 metadata metav1.ObjectMeta; 2 endpoints []Endpoint!; 3 ports []EndpointPort!; 4 addressType string!",
        "ForZone": "1 name string!",
        "ForNode": "1 name string!",
    },
    "discoveryv1alpha1": {  # k8s.io.api.discovery.v1alpha1, v0.16.15..v0.20.15
        "Endpoint": (
            "1 addresses []string!; 2 conditions EndpointConditions; 3 hostname string*; "
            "4 targetRef corev1.ObjectReference*; 5 topology {string}string; 6 nodeName string*"),
        "EndpointConditions": "1 ready bool*; 2 serving bool*; 3 terminating bool*",
        "EndpointPort": "1 name string*; 2 protocol string*; 3 port int32*; 4 appProtocol string*",
        "EndpointSlice": "1 metadata metav1.ObjectMeta; 2 endpoints []Endpoint!; 3 ports []EndpointPort!; 4 addressType string!",
    },
    "discoveryv1beta1": {  # k8s.io.api.discovery.v1beta1, v0.17.17..v0.36.3
        "Endpoint": (
            "1 addresses []string!; 2 conditions EndpointConditions; 3 hostname string*; "
            "4 targetRef corev1.ObjectReference*; 5 topology {string}string; 6 nodeName string*; 7 hints EndpointHints*"),
        "EndpointConditions": "1 ready bool*; 2 serving bool*; 3 terminating bool*",
        "EndpointPort": "1 name string*; 2 protocol string*; 3 port int32*; 4 appProtocol string*",
        "EndpointSlice": "1 metadata metav1.ObjectMeta; 2 endpoints []Endpoint!; 3 ports []EndpointPort!; 4 addressType string!",
        "EndpointHints": "1 forZones []ForZone; 2 forNodes []ForNode",
        "ForZone": "1 name string!",
        "ForNode": "1 name string!",
    },
}
