"""meta: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "intstr": {  # k8s.io.apimachinery.pkg.util.intstr, v0.16.15..v0.36.3
        "IntOrString": "1 type=Type int64!; 2 intVal=IntVal int32!; 3 strVal=StrVal string!",
    },
    "metav1": {  # k8s.io.apimachinery.pkg.apis.meta.v1, v0.16.15..v0.36.3
        "DeleteOptions": (
            "1 gracePeriodSeconds int64*; 2 preconditions Preconditions*; 3 orphanDependents bool*; "
            "4 propagationPolicy string*; 5 dryRun []string; 6 ignoreStoreReadErrorWithClusterBreakingPotential bool*"),
        "FieldsV1": "1 Raw=- bytes!",
        "GroupResource": "1 group string!; 2 resource string!",
        "LabelSelector": "1 matchLabels {string}string; 2 matchExpressions []LabelSelectorRequirement",
        "LabelSelectorRequirement": "1 key string!; 2 operator string!; 3 values []string",
        "ManagedFieldsEntry": (
            "1 manager string; 2 operation string; 3 apiVersion string; 4 time Time*; 6 fieldsType string; "
            "7 fieldsV1 FieldsV1*; 8 subresource string"),
        "MicroTime": "1 seconds int64!; 2 nanos int32!",
        "ObjectMeta": (
            "1 name string; 2 generateName string; 3 namespace string; 4 selfLink string; 5 uid string; "
            "6 resourceVersion string; 7 generation int64; 8 creationTimestamp Time; 9 deletionTimestamp Time*; "
            "10 deletionGracePeriodSeconds int64*; 11 labels {string}string; 12 annotations {string}string; "
            "13 ownerReferences []OwnerReference; 14 finalizers []string; 15 clusterName string; "
            "17 managedFields []ManagedFieldsEntry"),
        "OwnerReference": (
            "1 kind string!; 3 name string!; 4 uid string!; 5 apiVersion string!; 6 controller bool*; "
            "7 blockOwnerDeletion bool*"),
        "Preconditions": "1 uid string*; 2 resourceVersion string*",
        "Time": "1 seconds int64!; 2 nanos int32!",
        "Condition": (
            "1 type string!; 2 status string!; 3 observedGeneration int64; 4 lastTransitionTime Time; "
            "5 reason string!; 6 message string!"),
    },
    "resource": {  # k8s.io.apimachinery.pkg.api.resource, v0.16.15..v0.36.3
        "Quantity": "1 string string!",
    },
    "runtime": {  # k8s.io.apimachinery.pkg.runtime, v0.16.15..v0.36.3
        "RawExtension": "1 raw=- bytes!",
        "TypeMeta": "1 apiVersion string; 2 kind string",
        "Unknown": (
            "1 typeMeta TypeMeta^; 2 raw=- bytes!; 3 contentEncoding=ContentEncoding string!; "
            "4 contentType=ContentType string!"),
    },
}
