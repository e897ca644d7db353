"""scheduling: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "schedulingv1": {  # k8s.io.api.scheduling.v1, v0.16.15..v0.36.3
        "PriorityClass": (
            "1 metadata metav1.ObjectMeta; 2 value int32!; 3 globalDefault bool; 4 description string; "
            "5 preemptionPolicy string*"),
    },
    "schedulingv1alpha1": {  # k8s.io.api.scheduling.v1alpha1, v0.16.15..v0.35.7
        "PriorityClass": (
            "1 metadata metav1.ObjectMeta; 2 value int32!; 3 globalDefault bool; 4 description string; "
            "5 preemptionPolicy string*"),
        "BasicSchedulingPolicy": "",
        "GangSchedulingPolicy": "1 minCount int32!",
        "PodGroup": "1 name string!; 3 policy PodGroupPolicy",
        "PodGroupPolicy": "2 basic BasicSchedulingPolicy*; 3 gang GangSchedulingPolicy*",
        "TypedLocalObjectReference": "1 apiGroup string; 2 kind string!; 3 name string!",
        "Workload": "1 metadata metav1.ObjectMeta; 2 spec WorkloadSpec",
        "WorkloadSpec": "1 controllerRef TypedLocalObjectReference*; 2 podGroups []PodGroup!",
    },
    "schedulingv1alpha2": {  # k8s.io.api.scheduling.v1alpha2, v0.36.3..v0.36.3
        "BasicSchedulingPolicy": "",
        "GangSchedulingPolicy": "1 minCount int32!",
        "PodGroup": "1 metadata metav1.ObjectMeta; 2 spec PodGroupSpec; 3 status PodGroupStatus",
        "PodGroupResourceClaim": "1 name string!; 2 resourceClaimName string*; 3 resourceClaimTemplateName string*",
        "PodGroupResourceClaimStatus": "1 name string!; 2 resourceClaimName string*",
        "PodGroupSchedulingConstraints": "1 topology []TopologyConstraint",
        "PodGroupSchedulingPolicy": "1 basic BasicSchedulingPolicy*; 2 gang GangSchedulingPolicy*",
        "PodGroupSpec": (
            "1 podGroupTemplateRef PodGroupTemplateReference*!; 2 schedulingPolicy PodGroupSchedulingPolicy; "
            "3 schedulingConstraints PodGroupSchedulingConstraints*; 4 resourceClaims []PodGroupResourceClaim; "
            "5 disruptionMode string*; 6 priorityClassName string; 7 priority int32*"),
        "PodGroupStatus": "1 conditions []metav1.Condition; 2 resourceClaimStatuses []PodGroupResourceClaimStatus",
        "PodGroupTemplate": (
            "1 name string!; 2 schedulingPolicy PodGroupSchedulingPolicy; "
            "3 schedulingConstraints PodGroupSchedulingConstraints*!; 4 resourceClaims []PodGroupResourceClaim; "
            "5 disruptionMode string*; 6 priorityClassName string; 7 priority int32*"),
        "PodGroupTemplateReference": "1 workload WorkloadPodGroupTemplateReference*!",
        "TopologyConstraint": "1 key string!",
        "TypedLocalObjectReference": "1 apiGroup string; 2 kind string!; 3 name string!",
        "Workload": "1 metadata metav1.ObjectMeta; 2 spec WorkloadSpec",
        "WorkloadPodGroupTemplateReference": "1 workloadName string!; 2 podGroupTemplateName string!",
        "WorkloadSpec": "1 controllerRef TypedLocalObjectReference*; 2 podGroupTemplates []PodGroupTemplate!",
    },
    "schedulingv1beta1": {  # k8s.io.api.scheduling.v1beta1, v0.16.15..v0.36.3
        "PriorityClass": (
            "1 metadata metav1.ObjectMeta; 2 value int32!; 3 globalDefault bool; 4 description string; "
            "5 preemptionPolicy string*"),
    },
}
