"""storage: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "storagev1": {  # k8s.io.api.storage.v1, v0.16.15..v0.36.3
        "StorageClass": (
            "1 metadata metav1.ObjectMeta; 2 provisioner string!; 3 parameters {string}string; "
            "4 reclaimPolicy string*; 5 mountOptions []string; 6 allowVolumeExpansion bool*; 7 volumeBindingMode string*; "
            "8 allowedTopologies []corev1.TopologySelectorTerm"),
        "VolumeAttachment": "1 metadata metav1.ObjectMeta; 2 spec VolumeAttachmentSpec; 3 status VolumeAttachmentStatus",
        "VolumeAttachmentSource": "1 persistentVolumeName string*; 2 inlineVolumeSpec corev1.PersistentVolumeSpec*",
        "VolumeAttachmentSpec": "1 attacher string!; 2 source VolumeAttachmentSource; 3 nodeName string!",
        "VolumeAttachmentStatus": (
            "1 attached bool!; 2 attachmentMetadata {string}string; 3 attachError VolumeError*; "
            "4 detachError VolumeError*"),
        "VolumeError": "1 time metav1.Time; 2 message string; 3 errorCode int32*",
        "CSINode": "1 metadata metav1.ObjectMeta; 2 spec CSINodeSpec",
        "CSINodeDriver": "1 name string!; 2 nodeID string!; 3 topologyKeys []string!; 4 allocatable VolumeNodeResources*",
        "CSINodeSpec": "1 drivers []CSINodeDriver!",
        "VolumeNodeResources": "1 count int32*",
        "CSIDriver": "1 metadata metav1.ObjectMeta; 2 spec CSIDriverSpec",
        "CSIDriverSpec": (
            "1 attachRequired bool*; 2 podInfoOnMount bool*; 3 volumeLifecycleModes []string; "
            "4 storageCapacity bool*; 5 fsGroupPolicy string*; 6 tokenRequests []TokenRequest; 7 requiresRepublish bool*; "
            "8 seLinuxMount bool*; 9 nodeAllocatableUpdatePeriodSeconds int64*; 10 serviceAccountTokenInSecrets bool*; "
            "11 preventPodSchedulingIfMissing bool*"),
        "TokenRequest": "1 audience string!; 2 expirationSeconds int64*",
        "CSIStorageCapacity": (
            "1 metadata metav1.ObjectMeta; 2 nodeTopology metav1.LabelSelector*; 3 storageClassName string!; "
            "4 capacity resource.Quantity*; 5 maximumVolumeSize resource.Quantity*"),
        "VolumeAttributesClass": "1 metadata metav1.ObjectMeta; 2 driverName string!; 3 parameters {string}string",
    },
    "storagev1alpha1": {  # k8s.io.api.storage.v1alpha1, v0.16.15..v0.36.3
        "VolumeAttachment": "1 metadata metav1.ObjectMeta; 2 spec VolumeAttachmentSpec; 3 status VolumeAttachmentStatus",
        "VolumeAttachmentSource": "1 persistentVolumeName string*; 2 inlineVolumeSpec corev1.PersistentVolumeSpec*",
        "VolumeAttachmentSpec": "1 attacher string!; 2 source VolumeAttachmentSource; 3 nodeName string!",
        "VolumeAttachmentStatus": (
            "1 attached bool!; 2 attachmentMetadata {string}string; 3 attachError VolumeError*; "
            "4 detachError VolumeError*"),
        "VolumeError": "1 time metav1.Time; 2 message string; 3 errorCode int32*",
        "CSIStorageCapacity": (
            "1 metadata metav1.ObjectMeta; 2 nodeTopology metav1.LabelSelector*; 3 storageClassName string!; "
            "4 capacity resource.Quantity*; 5 maximumVolumeSize resource.Quantity*"),
        "VolumeAttributesClass": "1 metadata metav1.ObjectMeta; 2 driverName string!; 3 parameters {string}string",
    },
    "storagev1beta1": {  # k8s.io.api.storage.v1beta1, v0.16.15..v0.36.3
        "CSIDriver": "1 metadata metav1.ObjectMeta; 2 spec CSIDriverSpec",
        "CSIDriverSpec": (
            "1 attachRequired bool*; 2 podInfoOnMount bool*; 3 volumeLifecycleModes []string; "
            "4 storageCapacity bool*; 5 fsGroupPolicy string*; 6 tokenRequests []TokenRequest; 7 requiresRepublish bool*; "
            "8 seLinuxMount bool*; 9 nodeAllocatableUpdatePeriodSeconds int64*; 10 serviceAccountTokenInSecrets bool*; "
            "11 preventPodSchedulingIfMissing bool*"),
        "CSINode": "1 metadata metav1.ObjectMeta; 2 spec CSINodeSpec",
        "CSINodeDriver": "1 name string!; 2 nodeID string!; 3 topologyKeys []string!; 4 allocatable VolumeNodeResources*",
        "CSINodeSpec": "1 drivers []CSINodeDriver!",
        "StorageClass": (
            "1 metadata metav1.ObjectMeta; 2 provisioner string!; 3 parameters {string}string; "
            "4 reclaimPolicy string*; 5 mountOptions []string; 6 allowVolumeExpansion bool*; 7 volumeBindingMode string*; "
            "8 allowedTopologies []corev1.TopologySelectorTerm"),
        "VolumeAttachment": "1 metadata metav1.ObjectMeta; 2 spec VolumeAttachmentSpec; 3 status VolumeAttachmentStatus",
        "VolumeAttachmentSource": "1 persistentVolumeName string*; 2 inlineVolumeSpec corev1.PersistentVolumeSpec*",
        "VolumeAttachmentSpec": "1 attacher string!; 2 source VolumeAttachmentSource; 3 nodeName string!",
        "VolumeAttachmentStatus": (
            "1 attached bool!; 2 attachmentMetadata {string}string; 3 attachError VolumeError*; "
            "4 detachError VolumeError*"),
        "VolumeError": "1 time metav1.Time; 2 message string; 3 errorCode int32*",
        "VolumeNodeResources": "1 count int32*",
        "TokenRequest": "1 audience string!; 2 expirationSeconds int64*",
        "CSIStorageCapacity": (
            "1 metadata metav1.ObjectMeta; 2 nodeTopology metav1.LabelSelector*; 3 storageClassName string!; "
            "4 capacity resource.Quantity*; 5 maximumVolumeSize resource.Quantity*"),
        "VolumeAttributesClass": "1 metadata metav1.ObjectMeta; 2 driverName string!; 3 parameters {string}string",
    },
}
