"""apps: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "appsv1": {  # k8s.io.api.apps.v1, v0.16.15..v0.36.3
        "ControllerRevision": "1 metadata metav1.ObjectMeta; 2 data runtime.RawExtension; 3 revision int64!",
        "DaemonSet": "1 metadata metav1.ObjectMeta; 2 spec DaemonSetSpec; 3 status DaemonSetStatus",
        "DaemonSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "DaemonSetSpec": (
            "1 selector metav1.LabelSelector*!; 2 template corev1.PodTemplateSpec; "
            "3 updateStrategy DaemonSetUpdateStrategy; 4 minReadySeconds int32; 6 revisionHistoryLimit int32*"),
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
            "1 replicas int32*; 2 selector metav1.LabelSelector*!; 3 template corev1.PodTemplateSpec; "
            "4 strategy DeploymentStrategy; 5 minReadySeconds int32; 6 revisionHistoryLimit int32*; 7 paused bool; "
            "9 progressDeadlineSeconds int32*"),
        "DeploymentStatus": (
            "1 observedGeneration int64; 2 replicas int32; 3 updatedReplicas int32; 4 availableReplicas int32; "
            "5 unavailableReplicas int32; 6 conditions []DeploymentCondition; 7 readyReplicas int32; 8 collisionCount int32*; "
            "9 terminatingReplicas int32*"),
        "DeploymentStrategy": "1 type string; 2 rollingUpdate RollingUpdateDeployment*",
        "ReplicaSet": "1 metadata metav1.ObjectMeta; 2 spec ReplicaSetSpec; 3 status ReplicaSetStatus",
        "ReplicaSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "ReplicaSetSpec": (
            "1 replicas int32*; 2 selector metav1.LabelSelector*!; 3 template corev1.PodTemplateSpec; "
            "4 minReadySeconds int32"),
        "ReplicaSetStatus": (
            "1 replicas int32!; 2 fullyLabeledReplicas int32; 3 observedGeneration int64; "
            "4 readyReplicas int32; 5 availableReplicas int32; 6 conditions []ReplicaSetCondition; 7 terminatingReplicas int32*"),
        "RollingUpdateDaemonSet": "1 maxUnavailable intstr.IntOrString*; 2 maxSurge intstr.IntOrString*",
        "RollingUpdateDeployment": "1 maxUnavailable intstr.IntOrString*; 2 maxSurge intstr.IntOrString*",
        "RollingUpdateStatefulSetStrategy": "1 partition int32*; 2 maxUnavailable intstr.IntOrString*",
        "StatefulSet": "1 metadata metav1.ObjectMeta; 2 spec StatefulSetSpec; 3 status StatefulSetStatus",
        "StatefulSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "StatefulSetSpec": (
            "1 replicas int32*; 2 selector metav1.LabelSelector*!; 3 template corev1.PodTemplateSpec; "
            "4 volumeClaimTemplates []corev1.PersistentVolumeClaim; 5 serviceName string!; 6 podManagementPolicy string; "
            "7 updateStrategy StatefulSetUpdateStrategy; 8 revisionHistoryLimit int32*; 9 minReadySeconds int32; "
            "10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy*; "
            "11 ordinals StatefulSetOrdinals*"),
        "StatefulSetStatus": (
            "1 observedGeneration int64; 2 replicas int32!; 3 readyReplicas int32; 4 currentReplicas int32; "
            "5 updatedReplicas int32; 6 currentRevision string; 7 updateRevision string; 9 collisionCount int32*; "
            "10 conditions []StatefulSetCondition; 11 availableReplicas int32!"),
        "StatefulSetUpdateStrategy": "1 type string; 2 rollingUpdate RollingUpdateStatefulSetStrategy*",
        "StatefulSetPersistentVolumeClaimRetentionPolicy": "1 whenDeleted string; 2 whenScaled string",
        "StatefulSetOrdinals": "1 start int32!",
    },
    "appsv1beta1": {  # k8s.io.api.apps.v1beta1, v0.16.15..v0.36.3
        "ControllerRevision": "1 metadata metav1.ObjectMeta; 2 data runtime.RawExtension; 3 revision int64!",
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
        "RollbackConfig": "1 revision int64",
        "RollingUpdateDeployment": "1 maxUnavailable intstr.IntOrString*; 2 maxSurge intstr.IntOrString*",
        "RollingUpdateStatefulSetStrategy": "1 partition int32*; 2 maxUnavailable intstr.IntOrString*",
        "Scale": "1 metadata metav1.ObjectMeta; 2 spec ScaleSpec; 3 status ScaleStatus",
        "ScaleSpec": "1 replicas int32",
        "ScaleStatus": "1 replicas int32!; 2 selector {string}string; 3 targetSelector string",
        "StatefulSet": "1 metadata metav1.ObjectMeta; 2 spec StatefulSetSpec; 3 status StatefulSetStatus",
        "StatefulSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "StatefulSetSpec": (
            "1 replicas int32*; 2 selector metav1.LabelSelector*; 3 template corev1.PodTemplateSpec; "
            "4 volumeClaimTemplates []corev1.PersistentVolumeClaim; 5 serviceName string!; 6 podManagementPolicy string; "
            "7 updateStrategy StatefulSetUpdateStrategy; 8 revisionHistoryLimit int32*; 9 minReadySeconds int32; "
            "10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy*; "
            "11 ordinals StatefulSetOrdinals*"),
        "StatefulSetStatus": (
            "1 observedGeneration int64*; 2 replicas int32!; 3 readyReplicas int32; 4 currentReplicas int32; "
            "5 updatedReplicas int32; 6 currentRevision string; 7 updateRevision string; 9 collisionCount int32*; "
            "10 conditions []StatefulSetCondition; 11 availableReplicas int32!"),
        "StatefulSetUpdateStrategy": "1 type string; 2 rollingUpdate RollingUpdateStatefulSetStrategy*",
        "StatefulSetPersistentVolumeClaimRetentionPolicy": "1 whenDeleted string; 2 whenScaled string",
        "StatefulSetOrdinals": "1 start int32!",
    },
    "appsv1beta2": {  # k8s.io.api.apps.v1beta2, v0.16.15..v0.36.3
        "ControllerRevision": "1 metadata metav1.ObjectMeta; 2 data runtime.RawExtension; 3 revision int64!",
        "DaemonSet": "1 metadata metav1.ObjectMeta; 2 spec DaemonSetSpec; 3 status DaemonSetStatus",
        "DaemonSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "DaemonSetSpec": (
            "1 selector metav1.LabelSelector*!; 2 template corev1.PodTemplateSpec; "
            "3 updateStrategy DaemonSetUpdateStrategy; 4 minReadySeconds int32; 6 revisionHistoryLimit int32*"),
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
            "1 replicas int32*; 2 selector metav1.LabelSelector*!; 3 template corev1.PodTemplateSpec; "
            "4 strategy DeploymentStrategy; 5 minReadySeconds int32; 6 revisionHistoryLimit int32*; 7 paused bool; "
            "9 progressDeadlineSeconds int32*"),
        "DeploymentStatus": (
            "1 observedGeneration int64; 2 replicas int32; 3 updatedReplicas int32; 4 availableReplicas int32; "
            "5 unavailableReplicas int32; 6 conditions []DeploymentCondition; 7 readyReplicas int32; 8 collisionCount int32*; "
            "9 terminatingReplicas int32*"),
        "DeploymentStrategy": "1 type string; 2 rollingUpdate RollingUpdateDeployment*",
        "ReplicaSet": "1 metadata metav1.ObjectMeta; 2 spec ReplicaSetSpec; 3 status ReplicaSetStatus",
        "ReplicaSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "ReplicaSetSpec": (
            "1 replicas int32*; 2 selector metav1.LabelSelector*!; 3 template corev1.PodTemplateSpec; "
            "4 minReadySeconds int32"),
        "ReplicaSetStatus": (
            "1 replicas int32!; 2 fullyLabeledReplicas int32; 3 observedGeneration int64; "
            "4 readyReplicas int32; 5 availableReplicas int32; 6 conditions []ReplicaSetCondition; 7 terminatingReplicas int32*"),
        "RollingUpdateDaemonSet": "1 maxUnavailable intstr.IntOrString*; 2 maxSurge intstr.IntOrString*",
        "RollingUpdateDeployment": "1 maxUnavailable intstr.IntOrString*; 2 maxSurge intstr.IntOrString*",
        "RollingUpdateStatefulSetStrategy": "1 partition int32*; 2 maxUnavailable intstr.IntOrString*",
        "Scale": "1 metadata metav1.ObjectMeta; 2 spec ScaleSpec; 3 status ScaleStatus",
        "ScaleSpec": "1 replicas int32",
        "ScaleStatus": "1 replicas int32!; 2 selector {string}string; 3 targetSelector string",
        "StatefulSet": "1 metadata metav1.ObjectMeta; 2 spec StatefulSetSpec; 3 status StatefulSetStatus",
        "StatefulSetCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; 4 reason string; "
            "5 message string"),
        "StatefulSetSpec": (
            "1 replicas int32*; 2 selector metav1.LabelSelector*!; 3 template corev1.PodTemplateSpec; "
            "4 volumeClaimTemplates []corev1.PersistentVolumeClaim; 5 serviceName string!; 6 podManagementPolicy string; "
            "7 updateStrategy StatefulSetUpdateStrategy; 8 revisionHistoryLimit int32*; 9 minReadySeconds int32; "
            "10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy*; "
            "11 ordinals StatefulSetOrdinals*"),
        "StatefulSetStatus": (
            "1 observedGeneration int64; 2 replicas int32!; 3 readyReplicas int32; 4 currentReplicas int32; "
            "5 updatedReplicas int32; 6 currentRevision string; 7 updateRevision string; 9 collisionCount int32*; "
            "10 conditions []StatefulSetCondition; 11 availableReplicas int32!"),
        "StatefulSetUpdateStrategy": "1 type string; 2 rollingUpdate RollingUpdateStatefulSetStrategy*",
        "StatefulSetPersistentVolumeClaimRetentionPolicy": "1 whenDeleted string; 2 whenScaled string",
        "StatefulSetOrdinals": "1 start int32!",
    },
}
