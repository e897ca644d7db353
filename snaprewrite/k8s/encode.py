"""Serialize objects exactly as kube-apiserver stores them (gogo-protobuf field presence, runtime.Unknown).

kube-apiserver's generated marshallers write every *non-pointer* field of a Go struct, even when it
is empty ("" / 0 / false / an empty nested struct), and write pointer fields, slices and maps only
when set; fields go out in field-number order and map entries sorted by key. Python protobuf (proto2)
writes exactly the fields that are *present*, in number order with ``deterministic=True``, so
``gogo_fill`` marks every non-pointer field present before serializing. ``POINTER_FIELDS`` lists the
optional (pointer) fields per message; fields that only exist from or until some Kubernetes version
are in ``FIELD_SINCE`` / ``FIELD_UNTIL`` (checked against a real 1.18 snapshot, see tests/k8s).

Times (metav1.Time, MicroTime) are the exception: the zero time is an empty message, any other
time is ``{seconds, nanos}`` with both written.

The envelope is ``k8s\\x00`` + ``Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding="", contentType=""}``:
the two empty strings are written too (non-pointer fields).
"""

from google.protobuf.descriptor import FieldDescriptor

from .proto import runtime_pb2

K8S, META, DISC = "k8s.io.api.core.v1.", "k8s.io.apimachinery.pkg.apis.meta.v1.", "k8s.io.api.discovery."

# Pointer (optional) fields: written only when set. Everything else singular is always written.
POINTER_FIELDS: dict[str, set[str]] = {
    META + "ObjectMeta": {"deletionTimestamp", "deletionGracePeriodSeconds"},
    META + "ManagedFieldsEntry": {"time", "fieldsV1"},
    META + "OwnerReference": {"controller", "blockOwnerDeletion"},
    K8S + "TypedLocalObjectReference": {"apiGroup"},
    K8S + "ServicePort": {"appProtocol"},
    K8S + "ServiceSpec": {"sessionAffinityConfig", "ipFamily", "ipFamilyPolicy", "allocateLoadBalancerNodePorts",
                          "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution"},
    K8S + "SessionAffinityConfig": {"clientIP"},
    K8S + "ClientIPConfig": {"timeoutSeconds"},
    K8S + "LoadBalancerIngress": {"ipMode"},
    K8S + "PortStatus": {"error"},
    K8S + "EndpointAddress": {"targetRef", "nodeName"},
    K8S + "EndpointPort": {"appProtocol"},
    K8S + "NodeSpec": {"configSource"},
    K8S + "NodeConfigSource": {"configMap"},
    K8S + "NodeConfigStatus": {"assigned", "active", "lastKnownGood"},
    K8S + "Taint": {"timeAdded"},
    K8S + "NodeStatus": {"config", "features"},
    K8S + "NodeSystemInfo": {"swap"},
    K8S + "NodeSwapStatus": {"capacity"},
    K8S + "NodeRuntimeHandler": {"features"},
    K8S + "NodeRuntimeHandlerFeatures": {"recursiveReadOnlyMounts", "userNamespaces"},
    K8S + "NodeFeatures": {"supplementalGroupsPolicy"},
    K8S + "ConfigMap": {"immutable"},
    K8S + "Secret": {"immutable"},
    K8S + "ServiceAccount": {"automountServiceAccountToken"},
    K8S + "Event": {"series", "related"},
    K8S + "PodSpec": {"terminationGracePeriodSeconds", "activeDeadlineSeconds", "securityContext", "affinity",
                      "automountServiceAccountToken", "priority", "dnsConfig", "shareProcessNamespace",
                      "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "setHostnameAsFQDN", "os",
                      "hostUsers", "resources", "hostnameOverride"},
    K8S + "Container": {"livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "securityContext",
                        "restartPolicy"},
    K8S + "EnvVar": {"valueFrom"},
    K8S + "EnvVarSource": {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"},
    K8S + "EnvFromSource": {"configMapRef", "secretRef"},
    K8S + "ConfigMapKeySelector": {"optional"},
    K8S + "SecretKeySelector": {"optional"},
    K8S + "ConfigMapEnvSource": {"optional"},
    K8S + "SecretEnvSource": {"optional"},
    K8S + "VolumeMount": {"mountPropagation", "recursiveReadOnly"},
    K8S + "VolumeSource": {"hostPath", "emptyDir", "secret", "nfs", "persistentVolumeClaim", "downwardAPI",
                           "configMap", "projected", "csi"},
    K8S + "HostPathVolumeSource": {"type"},
    K8S + "EmptyDirVolumeSource": {"sizeLimit"},
    K8S + "SecretVolumeSource": {"defaultMode", "optional"},
    K8S + "ConfigMapVolumeSource": {"defaultMode", "optional"},
    K8S + "KeyToPath": {"mode"},
    K8S + "ProjectedVolumeSource": {"defaultMode"},
    K8S + "VolumeProjection": {"secret", "downwardAPI", "configMap", "serviceAccountToken"},
    K8S + "SecretProjection": {"optional"},
    K8S + "ConfigMapProjection": {"optional"},
    K8S + "ServiceAccountTokenProjection": {"expirationSeconds"},
    K8S + "DownwardAPIVolumeSource": {"defaultMode"},
    K8S + "DownwardAPIVolumeFile": {"fieldRef", "resourceFieldRef", "mode"},
    K8S + "CSIVolumeSource": {"readOnly", "fsType", "nodePublishSecretRef"},
    K8S + "Probe": {"terminationGracePeriodSeconds"},
    K8S + "ProbeHandler": {"exec", "httpGet", "tcpSocket", "grpc"},
    K8S + "LifecycleHandler": {"exec", "httpGet", "tcpSocket", "sleep"},
    K8S + "Lifecycle": {"postStart", "preStop", "stopSignal"},
    K8S + "GRPCAction": {"service"},
    K8S + "SecurityContext": {"capabilities", "privileged", "seLinuxOptions", "runAsUser", "runAsNonRoot",
                              "readOnlyRootFilesystem", "allowPrivilegeEscalation", "runAsGroup", "procMount",
                              "windowsOptions", "seccompProfile", "appArmorProfile"},
    K8S + "PodSecurityContext": {"seLinuxOptions", "runAsUser", "runAsNonRoot", "fsGroup", "runAsGroup",
                                 "windowsOptions", "fsGroupChangePolicy", "seccompProfile", "appArmorProfile",
                                 "supplementalGroupsPolicy", "seLinuxChangePolicy"},
    K8S + "WindowsSecurityContextOptions": {"gmsaCredentialSpecName", "gmsaCredentialSpec", "runAsUserName",
                                            "hostProcess"},
    K8S + "SeccompProfile": {"localhostProfile"},
    K8S + "AppArmorProfile": {"localhostProfile"},
    K8S + "Toleration": {"tolerationSeconds"},
    K8S + "Affinity": {"nodeAffinity", "podAffinity", "podAntiAffinity"},
    K8S + "NodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution"},
    K8S + "PodAffinityTerm": {"labelSelector", "namespaceSelector"},
    K8S + "TopologySpreadConstraint": {"labelSelector", "minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"},
    K8S + "PodStatus": {"startTime"},
    K8S + "ContainerStatus": {"started", "resources"},
    K8S + "ContainerState": {"waiting", "running", "terminated"},
    DISC + "v1.Endpoint": {"hostname", "targetRef", "nodeName", "zone", "hints"},
    DISC + "v1.EndpointConditions": {"ready", "serving", "terminating"},
    DISC + "v1.EndpointPort": {"name", "protocol", "port", "appProtocol"},
    DISC + "v1beta1.Endpoint": {"hostname", "targetRef", "nodeName", "hints"},
    "k8s.io.api.coordination.v1.LeaseSpec": {"holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime",
                                             "leaseTransitions", "strategy", "preferredHolder"},
    "k8s.io.api.networking.v1.IPAddressSpec": {"parentRef"},
}

# Non-pointer fields that exist only from (since) or up to (until) a Kubernetes minor version.
FIELD_SINCE: dict[str, tuple[int, int]] = {
    META + "ManagedFieldsEntry.subresource": (1, 22),
    K8S + "PodStatus.resize": (1, 27),
    K8S + "PodStatus.observedGeneration": (1, 33),
    K8S + "PodCondition.observedGeneration": (1, 33),
}
FIELD_UNTIL: dict[str, tuple[int, int]] = {
    META + "ObjectMeta.clusterName": (1, 24),
}

DEFAULT_VERSION = (1, 33)


def _written(desc, field, version: tuple[int, int]) -> bool:
    """_written tells whether gogo writes this singular field even when unset, for a Kubernetes version."""
    if field.name in POINTER_FIELDS.get(desc.full_name, ()):
        return False
    key = f"{desc.full_name}.{field.name}"
    if key in FIELD_SINCE and version < FIELD_SINCE[key]:
        return False
    if key in FIELD_UNTIL and version > FIELD_UNTIL[key]:
        return False
    return True


TIME_TYPES = {META + "Time", META + "MicroTime"}


def gogo_fill(msg, version: tuple[int, int] = DEFAULT_VERSION) -> None:
    """gogo_fill marks every always-written field of ``msg`` (recursively) present with its zero value."""
    desc = msg.DESCRIPTOR
    if desc.full_name in TIME_TYPES:
        # A zero time is written as an empty message; a set one as {seconds, nanos} with both present.
        if msg.HasField("seconds") or msg.HasField("nanos"):
            msg.seconds, msg.nanos = msg.seconds, msg.nanos
        return
    for field in desc.fields:
        is_msg = field.type == FieldDescriptor.TYPE_MESSAGE
        if field.is_repeated:
            if is_msg and not field.message_type.GetOptions().map_entry:
                for item in getattr(msg, field.name):
                    gogo_fill(item, version)
            elif is_msg and field.message_type.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for item in getattr(msg, field.name).values():
                    gogo_fill(item, version)
            continue
        present = msg.HasField(field.name)
        if not present and not _written(desc, field, version):
            continue
        if is_msg:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            gogo_fill(sub, version)
        elif not present:
            setattr(msg, field.name, field.default_value)


def encode_raw(msg, version: tuple[int, int] = DEFAULT_VERSION) -> bytes:
    """encode_raw serializes the object's own message as kube-apiserver would (fills a copy first)."""
    copy = type(msg)()
    copy.CopyFrom(msg)
    gogo_fill(copy, version)
    return copy.SerializeToString(deterministic=True)


def encode_object(msg, api_version: str, kind: str, version: tuple[int, int] = DEFAULT_VERSION) -> bytes:
    """encode_object returns the stored value: ``k8s\\x00`` + Unknown{typeMeta, raw, "", ""}."""
    unknown = runtime_pb2.Unknown(raw=encode_raw(msg, version), contentEncoding="", contentType="")
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    return b"k8s\x00" + unknown.SerializeToString(deterministic=True)
