"""events: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "eventsv1": {  # k8s.io.api.events.v1, v0.19.16..v0.36.3
        "Event": (
            "1 metadata metav1.ObjectMeta; 2 eventTime metav1.MicroTime; 3 series EventSeries*; "
            "4 reportingController string; 5 reportingInstance string; 6 action string; 7 reason string; "
            "8 regarding corev1.ObjectReference; 9 related corev1.ObjectReference*; 10 note string; 11 type string; "
            "12 deprecatedSource corev1.EventSource; 13 deprecatedFirstTimestamp metav1.Time; "
            "14 deprecatedLastTimestamp metav1.Time; 15 deprecatedCount int32"),
        "EventSeries": "1 count int32!; 2 lastObservedTime metav1.MicroTime",
    },
    "eventsv1beta1": {  # k8s.io.api.events.v1beta1, v0.16.15..v0.36.3
        "Event": (
            "1 metadata metav1.ObjectMeta; 2 eventTime metav1.MicroTime; 3 series EventSeries*; "
            "4 reportingController string; 5 reportingInstance string; 6 action string; 7 reason string; "
            "8 regarding corev1.ObjectReference; 9 related corev1.ObjectReference*; 10 note string; 11 type string; "
            "12 deprecatedSource corev1.EventSource; 13 deprecatedFirstTimestamp metav1.Time; "
            "14 deprecatedLastTimestamp metav1.Time; 15 deprecatedCount int32"),
        "EventSeries": "1 count int32!; 2 lastObservedTime metav1.MicroTime; 3 state string!",
    },
}
