"""autoscaling: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "autoscalingv1": {  # k8s.io.api.autoscaling.v1, v0.16.15..v0.36.3
        "CrossVersionObjectReference": "1 kind string!; 2 name string!; 3 apiVersion string",
        "HorizontalPodAutoscaler": (
            "1 metadata metav1.ObjectMeta; 2 spec HorizontalPodAutoscalerSpec; "
            "3 status HorizontalPodAutoscalerStatus"),
        "HorizontalPodAutoscalerSpec": (
            "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas int32*; "
            "3 maxReplicas int32!; 4 targetCPUUtilizationPercentage int32*"),
        "HorizontalPodAutoscalerStatus": (
            "1 observedGeneration int64*; 2 lastScaleTime metav1.Time*; 3 currentReplicas int32!; "
            "4 desiredReplicas int32!; 5 currentCPUUtilizationPercentage int32*"),
        "Scale": "1 metadata metav1.ObjectMeta; 2 spec ScaleSpec; 3 status ScaleStatus",
        "ScaleSpec": "1 replicas int32",
        "ScaleStatus": "1 replicas int32!; 2 selector string",
    },
    "autoscalingv2": {  # k8s.io.api.autoscaling.v2, v0.23.17..v0.36.3
        "ContainerResourceMetricSource": "1 name string!; 2 target MetricTarget; 3 container string!",
        "ContainerResourceMetricStatus": "1 name string!; 2 current MetricValueStatus; 3 container string!",
        "CrossVersionObjectReference": "1 kind string!; 2 name string!; 3 apiVersion string",
        "ExternalMetricSource": "1 metric MetricIdentifier; 2 target MetricTarget",
        "ExternalMetricStatus": "1 metric MetricIdentifier; 2 current MetricValueStatus",
        "HPAScalingPolicy": "1 type string!; 2 value int32!; 3 periodSeconds int32!",
        "HPAScalingRules": (
            "1 selectPolicy string*; 2 policies []HPAScalingPolicy; 3 stabilizationWindowSeconds int32*; "
            "4 tolerance resource.Quantity*"),
        "HorizontalPodAutoscaler": (
            "1 metadata metav1.ObjectMeta; 2 spec HorizontalPodAutoscalerSpec; "
            "3 status HorizontalPodAutoscalerStatus"),
        "HorizontalPodAutoscalerBehavior": "1 scaleUp HPAScalingRules*; 2 scaleDown HPAScalingRules*",
        "HorizontalPodAutoscalerCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; "
            "4 reason string; 5 message string"),
        "HorizontalPodAutoscalerSpec": (
            "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas int32*; "
            "3 maxReplicas int32!; 4 metrics []MetricSpec; 5 behavior HorizontalPodAutoscalerBehavior*"),
        "HorizontalPodAutoscalerStatus": (
            "1 observedGeneration int64*; 2 lastScaleTime metav1.Time*; 3 currentReplicas int32; "
            "4 desiredReplicas int32!; 5 currentMetrics []MetricStatus!; 6 conditions []HorizontalPodAutoscalerCondition"),
        "MetricIdentifier": "1 name string!; 2 selector metav1.LabelSelector*",
        "MetricSpec": (
            "1 type string!; 2 object ObjectMetricSource*; 3 pods PodsMetricSource*; "
            "4 resource ResourceMetricSource*; 5 external ExternalMetricSource*; "
            "7 containerResource ContainerResourceMetricSource*"),
        "MetricStatus": (
            "1 type string!; 2 object ObjectMetricStatus*; 3 pods PodsMetricStatus*; "
            "4 resource ResourceMetricStatus*; 5 external ExternalMetricStatus*; "
            "7 containerResource ContainerResourceMetricStatus*"),
        "MetricTarget": (
            "1 type string!; 2 value resource.Quantity*; 3 averageValue resource.Quantity*; "
            "4 averageUtilization int32*"),
        "MetricValueStatus": "1 value resource.Quantity*; 2 averageValue resource.Quantity*; 3 averageUtilization int32*",
        "ObjectMetricSource": "1 describedObject CrossVersionObjectReference; 2 target MetricTarget; 3 metric MetricIdentifier",
        "ObjectMetricStatus": (
            "1 metric MetricIdentifier; 2 current MetricValueStatus; "
            "3 describedObject CrossVersionObjectReference"),
        "PodsMetricSource": "1 metric MetricIdentifier; 2 target MetricTarget",
        "PodsMetricStatus": "1 metric MetricIdentifier; 2 current MetricValueStatus",
        "ResourceMetricSource": "1 name string!; 2 target MetricTarget",
        "ResourceMetricStatus": "1 name string!; 2 current MetricValueStatus",
    },
    "autoscalingv2beta1": {  # k8s.io.api.autoscaling.v2beta1, v0.16.15..v0.35.7
        "CrossVersionObjectReference": "1 kind string!; 2 name string!; 3 apiVersion string",
        "ExternalMetricSource": (
            "1 metricName string!; 2 metricSelector metav1.LabelSelector*; "
            "3 targetValue resource.Quantity*; 4 targetAverageValue resource.Quantity*"),
        "ExternalMetricStatus": (
            "1 metricName string!; 2 metricSelector metav1.LabelSelector*; "
            "3 currentValue resource.Quantity; 4 currentAverageValue resource.Quantity*"),
        "HorizontalPodAutoscaler": (
            "1 metadata metav1.ObjectMeta; 2 spec HorizontalPodAutoscalerSpec; "
            "3 status HorizontalPodAutoscalerStatus"),
        "HorizontalPodAutoscalerCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; "
            "4 reason string; 5 message string"),
        "HorizontalPodAutoscalerSpec": (
            "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas int32*; "
            "3 maxReplicas int32!; 4 metrics []MetricSpec"),
        "HorizontalPodAutoscalerStatus": (
            "1 observedGeneration int64*; 2 lastScaleTime metav1.Time*; 3 currentReplicas int32!; "
            "4 desiredReplicas int32!; 5 currentMetrics []MetricStatus!; 6 conditions []HorizontalPodAutoscalerCondition!"),
        "MetricSpec": (
            "1 type string!; 2 object ObjectMetricSource*; 3 pods PodsMetricSource*; "
            "4 resource ResourceMetricSource*; 5 external ExternalMetricSource*; "
            "7 containerResource ContainerResourceMetricSource*"),
        "MetricStatus": (
            "1 type string!; 2 object ObjectMetricStatus*; 3 pods PodsMetricStatus*; "
            "4 resource ResourceMetricStatus*; 5 external ExternalMetricStatus*; "
            "7 containerResource ContainerResourceMetricStatus*"),
        "ObjectMetricSource": (
            "1 target CrossVersionObjectReference; 2 metricName string!; 3 targetValue resource.Quantity; "
            "4 selector metav1.LabelSelector*; 5 averageValue resource.Quantity*"),
        "ObjectMetricStatus": (
            "1 target CrossVersionObjectReference; 2 metricName string!; 3 currentValue resource.Quantity; "
            "4 selector metav1.LabelSelector*; 5 averageValue resource.Quantity*"),
        "PodsMetricSource": "1 metricName string!; 2 targetAverageValue resource.Quantity; 3 selector metav1.LabelSelector*",
        "PodsMetricStatus": "1 metricName string!; 2 currentAverageValue resource.Quantity; 3 selector metav1.LabelSelector*",
        "ResourceMetricSource": "1 name string!; 2 targetAverageUtilization int32*; 3 targetAverageValue resource.Quantity*",
        "ResourceMetricStatus": "1 name string!; 2 currentAverageUtilization int32*; 3 currentAverageValue resource.Quantity",
        "ContainerResourceMetricSource": (
            "1 name string!; 2 targetAverageUtilization int32*; "
            "3 targetAverageValue resource.Quantity*; 4 container string!"),
        "ContainerResourceMetricStatus": (
            "1 name string!; 2 currentAverageUtilization int32*; "
            "3 currentAverageValue resource.Quantity; 4 container string!"),
    },
    "autoscalingv2beta2": {  # k8s.io.api.autoscaling.v2beta2, v0.16.15..v0.35.7
        "CrossVersionObjectReference": "1 kind string!; 2 name string!; 3 apiVersion string",
        "ExternalMetricSource": "1 metric MetricIdentifier; 2 target MetricTarget",
        "ExternalMetricStatus": "1 metric MetricIdentifier; 2 current MetricValueStatus",
        "HorizontalPodAutoscaler": (
            "1 metadata metav1.ObjectMeta; 2 spec HorizontalPodAutoscalerSpec; "
            "3 status HorizontalPodAutoscalerStatus"),
        "HorizontalPodAutoscalerCondition": (
            "1 type string!; 2 status string!; 3 lastTransitionTime metav1.Time; "
            "4 reason string; 5 message string"),
        "HorizontalPodAutoscalerSpec": (
            "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas int32*; "
            "3 maxReplicas int32!; 4 metrics []MetricSpec; 5 behavior HorizontalPodAutoscalerBehavior*"),
        "HorizontalPodAutoscalerStatus": (
            "1 observedGeneration int64*; 2 lastScaleTime metav1.Time*; 3 currentReplicas int32!; "
            "4 desiredReplicas int32!; 5 currentMetrics []MetricStatus!; 6 conditions []HorizontalPodAutoscalerCondition!"),
        "MetricIdentifier": "1 name string!; 2 selector metav1.LabelSelector*",
        "MetricSpec": (
            "1 type string!; 2 object ObjectMetricSource*; 3 pods PodsMetricSource*; "
            "4 resource ResourceMetricSource*; 5 external ExternalMetricSource*; "
            "7 containerResource ContainerResourceMetricSource*"),
        "MetricStatus": (
            "1 type string!; 2 object ObjectMetricStatus*; 3 pods PodsMetricStatus*; "
            "4 resource ResourceMetricStatus*; 5 external ExternalMetricStatus*; "
            "7 containerResource ContainerResourceMetricStatus*"),
        "MetricTarget": (
            "1 type string!; 2 value resource.Quantity*; 3 averageValue resource.Quantity*; "
            "4 averageUtilization int32*"),
        "MetricValueStatus": "1 value resource.Quantity*; 2 averageValue resource.Quantity*; 3 averageUtilization int32*",
        "ObjectMetricSource": "1 describedObject CrossVersionObjectReference; 2 target MetricTarget; 3 metric MetricIdentifier",
        "ObjectMetricStatus": (
            "1 metric MetricIdentifier; 2 current MetricValueStatus; "
            "3 describedObject CrossVersionObjectReference"),
        "PodsMetricSource": "1 metric MetricIdentifier; 2 target MetricTarget",
        "PodsMetricStatus": "1 metric MetricIdentifier; 2 current MetricValueStatus",
        "ResourceMetricSource": "1 name string!; 2 target MetricTarget",
        "ResourceMetricStatus": "1 name string!; 2 current MetricValueStatus",
        "HPAScalingPolicy": "1 type string!; 2 value int32!; 3 periodSeconds int32!",
        "HPAScalingRules": "1 selectPolicy string*; 2 policies []HPAScalingPolicy; 3 stabilizationWindowSeconds int32*",
        "HorizontalPodAutoscalerBehavior": "1 scaleUp HPAScalingRules*; 2 scaleDown HPAScalingRules*",
        "ContainerResourceMetricSource": "1 name string!; 2 target MetricTarget; 3 container string!",
        "ContainerResourceMetricStatus": "1 name string!; 2 current MetricValueStatus; 3 container string!",
    },
}
