"""batch: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "batchv1": {  # k8s.io.api.batch.v1, v0.16.15..v0.36.3
        "Job": "1 metadata metav1.ObjectMeta; 2 spec JobSpec; 3 status JobStatus",
        "JobCondition": (
            "1 type string!; 2 status string!; 3 lastProbeTime metav1.Time; 4 lastTransitionTime metav1.Time; "
            "5 reason string; 6 message string"),
        "JobSpec": (
            "1 parallelism int32*; 2 completions int32*; 3 activeDeadlineSeconds int64*; "
            "4 selector metav1.LabelSelector*; 5 manualSelector bool*; 6 template corev1.PodTemplateSpec; "
            "7 backoffLimit int32*; 8 ttlSecondsAfterFinished int32*; 9 completionMode string*; 10 suspend bool*; "
            "11 podFailurePolicy PodFailurePolicy*; 12 backoffLimitPerIndex int32*; 13 maxFailedIndexes int32*; "
            "14 podReplacementPolicy string*; 15 managedBy string*; 16 successPolicy SuccessPolicy*"),
        "JobStatus": (
            "1 conditions []JobCondition; 2 startTime metav1.Time*; 3 completionTime metav1.Time*; 4 active int32; "
            "5 succeeded int32; 6 failed int32; 7 completedIndexes string; 8 uncountedTerminatedPods UncountedTerminatedPods*; "
            "9 ready int32*; 10 failedIndexes string*; 11 terminating int32*"),
        "CronJob": "1 metadata metav1.ObjectMeta; 2 spec CronJobSpec; 3 status CronJobStatus",
        "CronJobSpec": (
            "1 schedule string!; 2 startingDeadlineSeconds int64*; 3 concurrencyPolicy string; 4 suspend bool*; "
            "5 jobTemplate JobTemplateSpec; 6 successfulJobsHistoryLimit int32*; 7 failedJobsHistoryLimit int32*; "
            "8 timeZone string*"),
        "CronJobStatus": "1 active []corev1.ObjectReference; 4 lastScheduleTime metav1.Time*; 5 lastSuccessfulTime metav1.Time*",
        "JobTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec JobSpec",
        "UncountedTerminatedPods": "1 succeeded []string; 2 failed []string",
        "PodFailurePolicy": "1 rules []PodFailurePolicyRule!",
        "PodFailurePolicyOnExitCodesRequirement": "1 containerName string*; 2 operator string!; 3 values []int32!",
        "PodFailurePolicyOnPodConditionsPattern": "1 type string!; 2 status string!",
        "PodFailurePolicyRule": (
            "1 action string!; 2 onExitCodes PodFailurePolicyOnExitCodesRequirement*; "
            "3 onPodConditions []PodFailurePolicyOnPodConditionsPattern"),
        "SuccessPolicy": "1 rules []SuccessPolicyRule!",
        "SuccessPolicyRule": "1 succeededIndexes string*; 2 succeededCount int32*",
    },
    "batchv1beta1": {  # k8s.io.api.batch.v1beta1, v0.16.15..v0.36.3
        "CronJob": "1 metadata metav1.ObjectMeta; 2 spec CronJobSpec; 3 status CronJobStatus",
        "CronJobSpec": (
            "1 schedule string!; 2 startingDeadlineSeconds int64*; 3 concurrencyPolicy string; 4 suspend bool*; "
            "5 jobTemplate JobTemplateSpec; 6 successfulJobsHistoryLimit int32*; 7 failedJobsHistoryLimit int32*; "
            "8 timeZone string*"),
        "CronJobStatus": "1 active []corev1.ObjectReference; 4 lastScheduleTime metav1.Time*; 5 lastSuccessfulTime metav1.Time*",
        "JobTemplate": "1 metadata metav1.ObjectMeta; 2 template JobTemplateSpec",
        "JobTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec batchv1.JobSpec",
    },
    "batchv2alpha1": {  # k8s.io.api.batch.v2alpha1, v0.16.15..v0.20.15
        "CronJob": "1 metadata metav1.ObjectMeta; 2 spec CronJobSpec; 3 status CronJobStatus",
        "CronJobSpec": (
            "1 schedule string!; 2 startingDeadlineSeconds int64*; 3 concurrencyPolicy string; 4 suspend bool*; "
            "5 jobTemplate JobTemplateSpec; 6 successfulJobsHistoryLimit int32*; 7 failedJobsHistoryLimit int32*"),
        "CronJobStatus": "1 active []corev1.ObjectReference; 4 lastScheduleTime metav1.Time*",
        "JobTemplate": "1 metadata metav1.ObjectMeta; 2 template JobTemplateSpec",
        "JobTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec batchv1.JobSpec",
    },
}
