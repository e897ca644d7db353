"""resource: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "resourcev1": {  # k8s.io.api.resource.v1, v0.34.10..v0.36.3
        "AllocatedDeviceStatus": (
            "1 driver string!; 2 pool string!; 3 device string!; 4 conditions []metav1.Condition!; "
            "5 data runtime.RawExtension*; 6 networkData NetworkDeviceData*; 7 shareID string*"),
        "AllocationResult": (
            "1 devices DeviceAllocationResult; 3 nodeSelector corev1.NodeSelector*; "
            "5 allocationTimestamp metav1.Time*"),
        "CELDeviceSelector": "1 expression string!",
        "CapacityRequestPolicy": (
            "1 default resource.Quantity*!; 3 validValues []resource.Quantity; "
            "4 validRange CapacityRequestPolicyRange*"),
        "CapacityRequestPolicyRange": "1 min resource.Quantity*; 2 max resource.Quantity*; 3 step resource.Quantity*",
        "CapacityRequirements": "1 requests {string}resource.Quantity",
        "Counter": "1 value resource.Quantity",
        "CounterSet": "1 name string!; 2 counters {string}Counter",
        "Device": (
            "1 name string!; 2 attributes {string}DeviceAttribute; 3 capacity {string}DeviceCapacity; "
            "4 consumesCounters []DeviceCounterConsumption; 5 nodeName string*; 6 nodeSelector corev1.NodeSelector*; "
            "7 allNodes bool*; 8 taints []DeviceTaint; 9 bindsToNode bool*; 10 bindingConditions []string; "
            "11 bindingFailureConditions []string; 12 allowMultipleAllocations bool*; "
            "13 nodeAllocatableResourceMappings {string}NodeAllocatableResourceMapping"),
        "DeviceAllocationConfiguration": "1 source string!; 2 requests []string; 3 deviceConfiguration DeviceConfiguration^",
        "DeviceAllocationResult": "1 results []DeviceRequestAllocationResult; 2 config []DeviceAllocationConfiguration",
        "DeviceAttribute": (
            "2 int int64*; 3 bool bool*; 4 string string*; 5 version string*; 6 ints []int64; 7 bools []bool; "
            "8 strings []string; 9 versions []string"),
        "DeviceCapacity": "1 value resource.Quantity; 2 requestPolicy CapacityRequestPolicy*",
        "DeviceClaim": "1 requests []DeviceRequest!; 2 constraints []DeviceConstraint; 3 config []DeviceClaimConfiguration",
        "DeviceClaimConfiguration": "1 requests []string; 2 deviceConfiguration DeviceConfiguration^",
        "DeviceClass": "1 metadata metav1.ObjectMeta; 2 spec DeviceClassSpec",
        "DeviceClassConfiguration": "1 deviceConfiguration DeviceConfiguration^",
        "DeviceClassSpec": "1 selectors []DeviceSelector; 2 config []DeviceClassConfiguration; 4 extendedResourceName string*",
        "DeviceConfiguration": "1 opaque OpaqueDeviceConfiguration*",
        "DeviceConstraint": "1 requests []string; 2 matchAttribute string*; 3 distinctAttribute string*",
        "DeviceCounterConsumption": "1 counterSet string!; 2 counters {string}Counter",
        "DeviceRequest": "1 name string!; 2 exactly ExactDeviceRequest*; 3 firstAvailable []DeviceSubRequest",
        "DeviceRequestAllocationResult": (
            "1 request string!; 2 driver string!; 3 pool string!; 4 device string!; "
            "5 adminAccess bool*; 6 tolerations []DeviceToleration; 7 bindingConditions []string; "
            "8 bindingFailureConditions []string; 9 shareID string*; 10 consumedCapacity {string}resource.Quantity"),
        "DeviceSelector": "1 cel CELDeviceSelector*",
        "DeviceSubRequest": (
            "1 name string!; 2 deviceClassName string!; 3 selectors []DeviceSelector; 4 allocationMode string; "
            "5 count int64; 6 tolerations []DeviceToleration; 7 capacity CapacityRequirements*"),
        "DeviceTaint": "1 key string!; 2 value string; 3 effect string!; 4 timeAdded metav1.Time*",
        "DeviceToleration": "1 key string; 2 operator string; 3 value string; 4 effect string; 5 tolerationSeconds int64*",
        "ExactDeviceRequest": (
            "1 deviceClassName string!; 2 selectors []DeviceSelector; 3 allocationMode string; "
            "4 count int64; 5 adminAccess bool*; 6 tolerations []DeviceToleration; 7 capacity CapacityRequirements*"),
        "NetworkDeviceData": "1 interfaceName string; 2 ips []string; 3 hardwareAddress string",
        "OpaqueDeviceConfiguration": "1 driver string!; 2 parameters runtime.RawExtension",
        "ResourceClaim": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec; 3 status ResourceClaimStatus",
        "ResourceClaimConsumerReference": "1 apiGroup string; 3 resource string!; 4 name string!; 5 uid string!",
        "ResourceClaimSpec": "1 devices DeviceClaim",
        "ResourceClaimStatus": (
            "1 allocation AllocationResult*; 2 reservedFor []ResourceClaimConsumerReference; "
            "4 devices []AllocatedDeviceStatus"),
        "ResourceClaimTemplate": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimTemplateSpec",
        "ResourceClaimTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec",
        "ResourcePool": "1 name string!; 2 generation int64!; 3 resourceSliceCount int64!",
        "ResourceSlice": "1 metadata metav1.ObjectMeta; 2 spec ResourceSliceSpec",
        "ResourceSliceSpec": (
            "1 driver string!; 2 pool ResourcePool; 3 nodeName string*; 4 nodeSelector corev1.NodeSelector*; "
            "5 allNodes bool*; 6 devices []Device; 7 perDeviceNodeSelection bool*; 8 sharedCounters []CounterSet"),
        "NodeAllocatableResourceMapping": "1 capacityKey string*; 2 allocationMultiplier resource.Quantity*",
    },
    "resourcev1alpha1": {  # k8s.io.api.resource.v1alpha1, v0.26.15..v0.26.15
        "AllocationResult": "1 resourceHandle string; 2 availableOnNodes corev1.NodeSelector*; 3 shareable bool",
        "PodScheduling": "1 metadata metav1.ObjectMeta; 2 spec PodSchedulingSpec; 3 status PodSchedulingStatus",
        "PodSchedulingSpec": "1 selectedNode string; 2 potentialNodes []string",
        "PodSchedulingStatus": "1 resourceClaims []ResourceClaimSchedulingStatus",
        "ResourceClaim": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec; 3 status ResourceClaimStatus",
        "ResourceClaimConsumerReference": "1 apiGroup string; 3 resource string!; 4 name string!; 5 uid string!",
        "ResourceClaimParametersReference": "1 apiGroup string; 2 kind string!; 3 name string!",
        "ResourceClaimSchedulingStatus": "1 name string; 2 unsuitableNodes []string",
        "ResourceClaimSpec": (
            "1 resourceClassName string!; 2 parametersRef ResourceClaimParametersReference*; "
            "3 allocationMode string"),
        "ResourceClaimStatus": (
            "1 driverName string; 2 allocation AllocationResult*; "
            "3 reservedFor []ResourceClaimConsumerReference; 4 deallocationRequested bool"),
        "ResourceClaimTemplate": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimTemplateSpec",
        "ResourceClaimTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec",
        "ResourceClass": (
            "1 metadata metav1.ObjectMeta; 2 driverName string!; "
            "3 parametersRef ResourceClassParametersReference*; 4 suitableNodes corev1.NodeSelector*"),
        "ResourceClassParametersReference": "1 apiGroup string; 2 kind string!; 3 name string!; 4 namespace string",
    },
    "resourcev1alpha2": {  # k8s.io.api.resource.v1alpha2, v0.27.16..v0.30.14
        "AllocationResult": "1 resourceHandles []ResourceHandle; 2 availableOnNodes corev1.NodeSelector*; 3 shareable bool",
        "PodSchedulingContext": (
            "1 metadata metav1.ObjectMeta; 2 spec PodSchedulingContextSpec; "
            "3 status PodSchedulingContextStatus"),
        "PodSchedulingContextSpec": "1 selectedNode string; 2 potentialNodes []string",
        "PodSchedulingContextStatus": "1 resourceClaims []ResourceClaimSchedulingStatus",
        "ResourceClaim": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec; 3 status ResourceClaimStatus",
        "ResourceClaimConsumerReference": "1 apiGroup string; 3 resource string!; 4 name string!; 5 uid string!",
        "ResourceClaimParametersReference": "1 apiGroup string; 2 kind string!; 3 name string!",
        "ResourceClaimSchedulingStatus": "1 name string; 2 unsuitableNodes []string",
        "ResourceClaimSpec": (
            "1 resourceClassName string!; 2 parametersRef ResourceClaimParametersReference*; "
            "3 allocationMode string"),
        "ResourceClaimStatus": (
            "1 driverName string; 2 allocation AllocationResult*; "
            "3 reservedFor []ResourceClaimConsumerReference; 4 deallocationRequested bool"),
        "ResourceClaimTemplate": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimTemplateSpec",
        "ResourceClaimTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec",
        "ResourceClass": (
            "1 metadata metav1.ObjectMeta; 2 driverName string!; "
            "3 parametersRef ResourceClassParametersReference*; 4 suitableNodes corev1.NodeSelector*; "
            "5 structuredParameters bool*"),
        "ResourceClassParametersReference": "1 apiGroup string; 2 kind string!; 3 name string!; 4 namespace string",
        "ResourceHandle": "1 driverName string; 2 data string; 5 structuredData StructuredResourceHandle*",
        "AllocationResultModel": "1 namedResources NamedResourcesAllocationResult*",
        "DriverAllocationResult": (
            "1 vendorRequestParameters runtime.RawExtension; "
            "2 allocationResultModel AllocationResultModel^"),
        "DriverRequests": "1 driverName string; 2 vendorParameters runtime.RawExtension; 3 requests []ResourceRequest",
        "NamedResourcesAllocationResult": "1 name string!",
        "NamedResourcesAttribute": "1 name string!; 2 attributeValue NamedResourcesAttributeValue^",
        "NamedResourcesAttributeValue": (
            "2 bool bool*; 5 string string*; 6 quantity resource.Quantity*; 7 int int64*; "
            "8 intSlice NamedResourcesIntSlice*; 9 stringSlice NamedResourcesStringSlice*; 10 version string*"),
        "NamedResourcesFilter": "1 selector string!",
        "NamedResourcesInstance": "1 name string!; 2 attributes []NamedResourcesAttribute",
        "NamedResourcesIntSlice": "1 ints []int64!",
        "NamedResourcesRequest": "1 selector string!",
        "NamedResourcesResources": "1 instances []NamedResourcesInstance!",
        "NamedResourcesStringSlice": "1 strings []string!",
        "ResourceClaimParameters": (
            "1 metadata metav1.ObjectMeta; 2 generatedFrom ResourceClaimParametersReference*; "
            "3 shareable bool; 4 driverRequests []DriverRequests"),
        "ResourceClassParameters": (
            "1 metadata metav1.ObjectMeta; 2 generatedFrom ResourceClassParametersReference*; "
            "3 vendorParameters []VendorParameters; 4 filters []ResourceFilter"),
        "ResourceFilter": "1 driverName string; 2 resourceFilterModel ResourceFilterModel^",
        "ResourceFilterModel": "1 namedResources NamedResourcesFilter*",
        "ResourceModel": "1 namedResources NamedResourcesResources*",
        "ResourceRequest": "1 vendorParameters runtime.RawExtension; 2 resourceRequestModel ResourceRequestModel^",
        "ResourceRequestModel": "1 namedResources NamedResourcesRequest*",
        "ResourceSlice": "1 metadata metav1.ObjectMeta; 2 nodeName string; 3 driverName string!; 4 resourceModel ResourceModel^",
        "StructuredResourceHandle": (
            "1 vendorClassParameters runtime.RawExtension; "
            "2 vendorClaimParameters runtime.RawExtension; 4 nodeName string; 5 results []DriverAllocationResult!"),
        "VendorParameters": "1 driverName string; 2 parameters runtime.RawExtension",
    },
    "resourcev1alpha3": {  # k8s.io.api.resource.v1alpha3, v0.31.14..v0.36.3
        "AllocationResult": "1 devices DeviceAllocationResult; 3 nodeSelector corev1.NodeSelector*; 4 controller string",
        "BasicDevice": (
            "1 attributes {string}DeviceAttribute; 2 capacity {string}resource.Quantity; "
            "3 consumesCounters []DeviceCounterConsumption; 4 nodeName string*; 5 nodeSelector corev1.NodeSelector*; "
            "6 allNodes bool*; 7 taints []DeviceTaint"),
        "CELDeviceSelector": "1 expression string!",
        "Device": "1 name string!; 2 basic BasicDevice*",
        "DeviceAllocationConfiguration": "1 source string!; 2 requests []string; 3 deviceConfiguration DeviceConfiguration^",
        "DeviceAllocationResult": "1 results []DeviceRequestAllocationResult; 2 config []DeviceAllocationConfiguration",
        "DeviceAttribute": "2 int int64*; 3 bool bool*; 4 string string*; 5 version string*",
        "DeviceClaim": "1 requests []DeviceRequest!; 2 constraints []DeviceConstraint; 3 config []DeviceClaimConfiguration",
        "DeviceClaimConfiguration": "1 requests []string; 2 deviceConfiguration DeviceConfiguration^",
        "DeviceClass": "1 metadata metav1.ObjectMeta; 2 spec DeviceClassSpec",
        "DeviceClassConfiguration": "1 deviceConfiguration DeviceConfiguration^",
        "DeviceClassSpec": (
            "1 selectors []DeviceSelector; 2 config []DeviceClassConfiguration; "
            "3 suitableNodes corev1.NodeSelector*"),
        "DeviceConfiguration": "1 opaque OpaqueDeviceConfiguration*",
        "DeviceConstraint": "1 requests []string; 2 matchAttribute string*",
        "DeviceRequest": (
            "1 name string!; 2 deviceClassName string!; 3 selectors []DeviceSelector; 4 allocationMode string; "
            "5 count int64; 6 adminAccess bool*; 7 firstAvailable []DeviceSubRequest; 8 tolerations []DeviceToleration"),
        "DeviceRequestAllocationResult": (
            "1 request string!; 2 driver string!; 3 pool string!; 4 device string!; "
            "5 adminAccess bool*!; 6 tolerations []DeviceToleration"),
        "DeviceSelector": "1 cel CELDeviceSelector*",
        "OpaqueDeviceConfiguration": "1 driver string!; 2 parameters runtime.RawExtension",
        "PodSchedulingContext": (
            "1 metadata metav1.ObjectMeta; 2 spec PodSchedulingContextSpec; "
            "3 status PodSchedulingContextStatus"),
        "PodSchedulingContextSpec": "1 selectedNode string; 2 potentialNodes []string",
        "PodSchedulingContextStatus": "1 resourceClaims []ResourceClaimSchedulingStatus",
        "ResourceClaim": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec; 3 status ResourceClaimStatus",
        "ResourceClaimConsumerReference": "1 apiGroup string; 3 resource string!; 4 name string!; 5 uid string!",
        "ResourceClaimSchedulingStatus": "1 name string!; 2 unsuitableNodes []string",
        "ResourceClaimSpec": "1 devices DeviceClaim; 2 controller string",
        "ResourceClaimStatus": (
            "1 allocation AllocationResult*; 2 reservedFor []ResourceClaimConsumerReference; "
            "3 deallocationRequested bool; 4 devices []AllocatedDeviceStatus"),
        "ResourceClaimTemplate": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimTemplateSpec",
        "ResourceClaimTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec",
        "ResourcePool": "1 name string!; 2 generation int64!; 3 resourceSliceCount int64!",
        "ResourceSlice": "1 metadata metav1.ObjectMeta; 2 spec ResourceSliceSpec",
        "ResourceSliceSpec": (
            "1 driver string!; 2 pool ResourcePool; 3 nodeName string; 4 nodeSelector corev1.NodeSelector*; "
            "5 allNodes bool; 6 devices []Device!; 7 perDeviceNodeSelection bool*; 8 sharedCounters []CounterSet"),
        "AllocatedDeviceStatus": (
            "1 driver string!; 2 pool string!; 3 device string!; 4 conditions []metav1.Condition!; "
            "5 data runtime.RawExtension*; 6 networkData NetworkDeviceData*"),
        "NetworkDeviceData": "1 interfaceName string; 2 ips []string; 3 hardwareAddress string",
        "Counter": "1 value resource.Quantity",
        "CounterSet": "1 name string!; 2 counters {string}Counter",
        "DeviceCounterConsumption": "1 counterSet string!; 2 counters {string}Counter",
        "DeviceSubRequest": (
            "1 name string!; 2 deviceClassName string!; 3 selectors []DeviceSelector; 4 allocationMode string; "
            "5 count int64; 7 tolerations []DeviceToleration"),
        "DeviceTaint": "1 key string!; 2 value string; 3 effect string!; 4 timeAdded metav1.Time*",
        "DeviceTaintRule": "1 metadata metav1.ObjectMeta; 2 spec DeviceTaintRuleSpec; 3 status DeviceTaintRuleStatus",
        "DeviceTaintRuleSpec": "1 deviceSelector DeviceTaintSelector*; 2 taint DeviceTaint",
        "DeviceTaintSelector": (
            "1 deviceClassName string*; 2 driver string*; 3 pool string*; 4 device string*; "
            "5 selectors []DeviceSelector"),
        "DeviceToleration": "1 key string; 2 operator string; 3 value string; 4 effect string; 5 tolerationSeconds int64*",
        "DeviceTaintRuleStatus": "1 conditions []metav1.Condition",
        "PoolStatus": (
            "1 driver string; 2 poolName string; 3 nodeName string*; 4 totalDevices int32*; "
            "5 allocatedDevices int32*; 6 availableDevices int32*; 7 unavailableDevices int32*; 8 resourceSliceCount int32*; "
            "9 generation int64!; 10 validationError string*"),
        "ResourcePoolStatusRequest": (
            "1 metadata metav1.ObjectMeta; 2 spec ResourcePoolStatusRequestSpec; "
            "3 status ResourcePoolStatusRequestStatus*"),
        "ResourcePoolStatusRequestSpec": "1 driver string!; 2 poolName string*; 3 limit int32*",
        "ResourcePoolStatusRequestStatus": "2 pools []PoolStatus; 3 conditions []metav1.Condition; 6 poolCount int32*",
    },
    "resourcev1beta1": {  # k8s.io.api.resource.v1beta1, v0.32.13..v0.36.3
        "AllocatedDeviceStatus": (
            "1 driver string!; 2 pool string!; 3 device string!; 4 conditions []metav1.Condition!; "
            "5 data runtime.RawExtension*; 6 networkData NetworkDeviceData*; 7 shareID string*"),
        "AllocationResult": (
            "1 devices DeviceAllocationResult; 3 nodeSelector corev1.NodeSelector*; "
            "5 allocationTimestamp metav1.Time*"),
        "BasicDevice": (
            "1 attributes {string}DeviceAttribute; 2 capacity {string}DeviceCapacity; "
            "3 consumesCounters []DeviceCounterConsumption; 4 nodeName string*; 5 nodeSelector corev1.NodeSelector*; "
            "6 allNodes bool*; 7 taints []DeviceTaint; 8 bindsToNode bool*; 9 bindingConditions []string; "
            "10 bindingFailureConditions []string; 11 allowMultipleAllocations bool*; "
            "12 nodeAllocatableResourceMappings {string}NodeAllocatableResourceMapping"),
        "CELDeviceSelector": "1 expression string!",
        "Device": "1 name string!; 2 basic BasicDevice*",
        "DeviceAllocationConfiguration": "1 source string!; 2 requests []string; 3 deviceConfiguration DeviceConfiguration^",
        "DeviceAllocationResult": "1 results []DeviceRequestAllocationResult; 2 config []DeviceAllocationConfiguration",
        "DeviceAttribute": (
            "2 int int64*; 3 bool bool*; 4 string string*; 5 version string*; 6 ints []int64; 7 bools []bool; "
            "8 strings []string; 9 versions []string"),
        "DeviceCapacity": "1 value resource.Quantity; 2 requestPolicy CapacityRequestPolicy*",
        "DeviceClaim": "1 requests []DeviceRequest!; 2 constraints []DeviceConstraint; 3 config []DeviceClaimConfiguration",
        "DeviceClaimConfiguration": "1 requests []string; 2 deviceConfiguration DeviceConfiguration^",
        "DeviceClass": "1 metadata metav1.ObjectMeta; 2 spec DeviceClassSpec",
        "DeviceClassConfiguration": "1 deviceConfiguration DeviceConfiguration^",
        "DeviceClassSpec": "1 selectors []DeviceSelector; 2 config []DeviceClassConfiguration; 4 extendedResourceName string*",
        "DeviceConfiguration": "1 opaque OpaqueDeviceConfiguration*",
        "DeviceConstraint": "1 requests []string; 2 matchAttribute string*; 3 distinctAttribute string*",
        "DeviceRequest": (
            "1 name string!; 2 deviceClassName string!; 3 selectors []DeviceSelector; 4 allocationMode string; "
            "5 count int64; 6 adminAccess bool*; 7 firstAvailable []DeviceSubRequest; 8 tolerations []DeviceToleration; "
            "9 capacity CapacityRequirements*"),
        "DeviceRequestAllocationResult": (
            "1 request string!; 2 driver string!; 3 pool string!; 4 device string!; "
            "5 adminAccess bool*; 6 tolerations []DeviceToleration; 7 bindingConditions []string; "
            "8 bindingFailureConditions []string; 9 shareID string*; 10 consumedCapacity {string}resource.Quantity"),
        "DeviceSelector": "1 cel CELDeviceSelector*",
        "NetworkDeviceData": "1 interfaceName string; 2 ips []string; 3 hardwareAddress string",
        "OpaqueDeviceConfiguration": "1 driver string!; 2 parameters runtime.RawExtension",
        "ResourceClaim": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec; 3 status ResourceClaimStatus",
        "ResourceClaimConsumerReference": "1 apiGroup string; 3 resource string!; 4 name string!; 5 uid string!",
        "ResourceClaimSpec": "1 devices DeviceClaim",
        "ResourceClaimStatus": (
            "1 allocation AllocationResult*; 2 reservedFor []ResourceClaimConsumerReference; "
            "4 devices []AllocatedDeviceStatus"),
        "ResourceClaimTemplate": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimTemplateSpec",
        "ResourceClaimTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec",
        "ResourcePool": "1 name string!; 2 generation int64!; 3 resourceSliceCount int64!",
        "ResourceSlice": "1 metadata metav1.ObjectMeta; 2 spec ResourceSliceSpec",
        "ResourceSliceSpec": (
            "1 driver string!; 2 pool ResourcePool; 3 nodeName string; 4 nodeSelector corev1.NodeSelector*; "
            "5 allNodes bool; 6 devices []Device; 7 perDeviceNodeSelection bool*; 8 sharedCounters []CounterSet"),
        "Counter": "1 value resource.Quantity",
        "CounterSet": "1 name string!; 2 counters {string}Counter",
        "DeviceCounterConsumption": "1 counterSet string!; 2 counters {string}Counter",
        "DeviceSubRequest": (
            "1 name string!; 2 deviceClassName string!; 3 selectors []DeviceSelector; 4 allocationMode string; "
            "5 count int64; 7 tolerations []DeviceToleration; 8 capacity CapacityRequirements*"),
        "DeviceTaint": "1 key string!; 2 value string; 3 effect string!; 4 timeAdded metav1.Time*",
        "DeviceToleration": "1 key string; 2 operator string; 3 value string; 4 effect string; 5 tolerationSeconds int64*",
        "CapacityRequestPolicy": (
            "1 default resource.Quantity*!; 3 validValues []resource.Quantity; "
            "4 validRange CapacityRequestPolicyRange*"),
        "CapacityRequestPolicyRange": "1 min resource.Quantity*; 2 max resource.Quantity*; 3 step resource.Quantity*",
        "CapacityRequirements": "1 requests {string}resource.Quantity",
        "NodeAllocatableResourceMapping": "1 capacityKey string*; 2 allocationMultiplier resource.Quantity*",
    },
    "resourcev1beta2": {  # k8s.io.api.resource.v1beta2, v0.33.13..v0.36.3
        "AllocatedDeviceStatus": (
            "1 driver string!; 2 pool string!; 3 device string!; 4 conditions []metav1.Condition!; "
            "5 data runtime.RawExtension*; 6 networkData NetworkDeviceData*; 7 shareID string*"),
        "AllocationResult": (
            "1 devices DeviceAllocationResult; 3 nodeSelector corev1.NodeSelector*; "
            "5 allocationTimestamp metav1.Time*"),
        "CELDeviceSelector": "1 expression string!",
        "Counter": "1 value resource.Quantity",
        "CounterSet": "1 name string!; 2 counters {string}Counter",
        "Device": (
            "1 name string!; 2 attributes {string}DeviceAttribute; 3 capacity {string}DeviceCapacity; "
            "4 consumesCounters []DeviceCounterConsumption; 5 nodeName string*; 6 nodeSelector corev1.NodeSelector*; "
            "7 allNodes bool*; 8 taints []DeviceTaint; 9 bindsToNode bool*; 10 bindingConditions []string; "
            "11 bindingFailureConditions []string; 12 allowMultipleAllocations bool*; "
            "13 nodeAllocatableResourceMappings {string}NodeAllocatableResourceMapping"),
        "DeviceAllocationConfiguration": "1 source string!; 2 requests []string; 3 deviceConfiguration DeviceConfiguration^",
        "DeviceAllocationResult": "1 results []DeviceRequestAllocationResult; 2 config []DeviceAllocationConfiguration",
        "DeviceAttribute": (
            "2 int int64*; 3 bool bool*; 4 string string*; 5 version string*; 6 ints []int64; 7 bools []bool; "
            "8 strings []string; 9 versions []string"),
        "DeviceCapacity": "1 value resource.Quantity; 2 requestPolicy CapacityRequestPolicy*",
        "DeviceClaim": "1 requests []DeviceRequest!; 2 constraints []DeviceConstraint; 3 config []DeviceClaimConfiguration",
        "DeviceClaimConfiguration": "1 requests []string; 2 deviceConfiguration DeviceConfiguration^",
        "DeviceClass": "1 metadata metav1.ObjectMeta; 2 spec DeviceClassSpec",
        "DeviceClassConfiguration": "1 deviceConfiguration DeviceConfiguration^",
        "DeviceClassSpec": "1 selectors []DeviceSelector; 2 config []DeviceClassConfiguration; 4 extendedResourceName string*",
        "DeviceConfiguration": "1 opaque OpaqueDeviceConfiguration*",
        "DeviceConstraint": "1 requests []string; 2 matchAttribute string*; 3 distinctAttribute string*",
        "DeviceCounterConsumption": "1 counterSet string!; 2 counters {string}Counter",
        "DeviceRequest": "1 name string!; 2 exactly ExactDeviceRequest*; 3 firstAvailable []DeviceSubRequest",
        "DeviceRequestAllocationResult": (
            "1 request string!; 2 driver string!; 3 pool string!; 4 device string!; "
            "5 adminAccess bool*; 6 tolerations []DeviceToleration; 7 bindingConditions []string; "
            "8 bindingFailureConditions []string; 9 shareID string*; 10 consumedCapacity {string}resource.Quantity"),
        "DeviceSelector": "1 cel CELDeviceSelector*",
        "DeviceSubRequest": (
            "1 name string!; 2 deviceClassName string!; 3 selectors []DeviceSelector; 4 allocationMode string; "
            "5 count int64; 6 tolerations []DeviceToleration; 7 capacity CapacityRequirements*"),
        "DeviceTaint": "1 key string!; 2 value string; 3 effect string!; 4 timeAdded metav1.Time*",
        "DeviceToleration": "1 key string; 2 operator string; 3 value string; 4 effect string; 5 tolerationSeconds int64*",
        "ExactDeviceRequest": (
            "1 deviceClassName string!; 2 selectors []DeviceSelector; 3 allocationMode string; "
            "4 count int64; 5 adminAccess bool*; 6 tolerations []DeviceToleration; 7 capacity CapacityRequirements*"),
        "NetworkDeviceData": "1 interfaceName string; 2 ips []string; 3 hardwareAddress string",
        "OpaqueDeviceConfiguration": "1 driver string!; 2 parameters runtime.RawExtension",
        "ResourceClaim": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec; 3 status ResourceClaimStatus",
        "ResourceClaimConsumerReference": "1 apiGroup string; 3 resource string!; 4 name string!; 5 uid string!",
        "ResourceClaimSpec": "1 devices DeviceClaim",
        "ResourceClaimStatus": (
            "1 allocation AllocationResult*; 2 reservedFor []ResourceClaimConsumerReference; "
            "4 devices []AllocatedDeviceStatus"),
        "ResourceClaimTemplate": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimTemplateSpec",
        "ResourceClaimTemplateSpec": "1 metadata metav1.ObjectMeta; 2 spec ResourceClaimSpec",
        "ResourcePool": "1 name string!; 2 generation int64!; 3 resourceSliceCount int64!",
        "ResourceSlice": "1 metadata metav1.ObjectMeta; 2 spec ResourceSliceSpec",
        "ResourceSliceSpec": (
            "1 driver string!; 2 pool ResourcePool; 3 nodeName string*; 4 nodeSelector corev1.NodeSelector*; "
            "5 allNodes bool*; 6 devices []Device; 7 perDeviceNodeSelection bool*; 8 sharedCounters []CounterSet"),
        "CapacityRequestPolicy": (
            "1 default resource.Quantity*!; 3 validValues []resource.Quantity; "
            "4 validRange CapacityRequestPolicyRange*"),
        "CapacityRequestPolicyRange": "1 min resource.Quantity*; 2 max resource.Quantity*; 3 step resource.Quantity*",
        "CapacityRequirements": "1 requests {string}resource.Quantity",
        "DeviceTaintRule": "1 metadata metav1.ObjectMeta; 2 spec DeviceTaintRuleSpec; 3 status DeviceTaintRuleStatus",
        "DeviceTaintRuleSpec": "1 deviceSelector DeviceTaintSelector*; 2 taint DeviceTaint",
        "DeviceTaintRuleStatus": "1 conditions []metav1.Condition",
        "DeviceTaintSelector": "2 driver string*; 3 pool string*; 4 device string*",
        "NodeAllocatableResourceMapping": "1 capacityKey string*; 2 allocationMultiplier resource.Quantity*",
    },
}
