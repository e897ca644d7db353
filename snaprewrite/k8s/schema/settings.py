"""settings: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "settingsv1alpha1": {  # k8s.io.api.settings.v1alpha1, v0.16.15..v0.19.16
        "PodPreset": "1 metadata metav1.ObjectMeta; 2 spec PodPresetSpec",
        "PodPresetSpec": (
            "1 selector metav1.LabelSelector; 2 env []corev1.EnvVar; 3 envFrom []corev1.EnvFromSource; "
            "4 volumes []corev1.Volume; 5 volumeMounts []corev1.VolumeMount"),
    },
}
