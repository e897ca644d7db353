"""auditregistration: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "auditregistrationv1alpha1": {  # k8s.io.api.auditregistration.v1alpha1, v0.16.15..v0.18.19
        "AuditSink": "1 metadata metav1.ObjectMeta; 2 spec AuditSinkSpec",
        "AuditSinkSpec": "1 policy Policy; 2 webhook Webhook",
        "Policy": "1 level string!; 2 stages []string!",
        "ServiceReference": "1 namespace string!; 2 name string!; 3 path string*; 4 port int32*",
        "Webhook": "1 throttle WebhookThrottleConfig*; 2 clientConfig WebhookClientConfig",
        "WebhookClientConfig": "1 url string*; 2 service ServiceReference*; 3 caBundle bytes",
        "WebhookThrottleConfig": "1 qps int64*; 2 burst int64*",
    },
}
