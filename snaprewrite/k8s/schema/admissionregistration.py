"""admissionregistration: field facts of its stored kinds, in the table form ``schema/__init__.py`` describes."""

PACKAGES = {
    "admissionregistrationv1": {  # k8s.io.api.admissionregistration.v1, v0.16.15..v0.36.3
        "MutatingWebhook": (
            "1 name string!; 2 clientConfig WebhookClientConfig; 3 rules []RuleWithOperations; "
            "4 failurePolicy string*; 5 namespaceSelector metav1.LabelSelector*; 6 sideEffects string*!; "
            "7 timeoutSeconds int32*; 8 admissionReviewVersions []string!; 9 matchPolicy string*; "
            "10 reinvocationPolicy string*; 11 objectSelector metav1.LabelSelector*; 12 matchConditions []MatchCondition"),
        "MutatingWebhookConfiguration": "1 metadata metav1.ObjectMeta; 2 Webhooks=webhooks []MutatingWebhook",
        "Rule": "1 apiGroups []string; 2 apiVersions []string; 3 resources []string; 4 scope string*",
        "RuleWithOperations": "1 operations []string; 2 rule Rule^",
        "ServiceReference": "1 namespace string!; 2 name string!; 3 path string*; 4 port int32*",
        "ValidatingWebhook": (
            "1 name string!; 2 clientConfig WebhookClientConfig; 3 rules []RuleWithOperations; "
            "4 failurePolicy string*; 5 namespaceSelector metav1.LabelSelector*; 6 sideEffects string*!; "
            "7 timeoutSeconds int32*; 8 admissionReviewVersions []string!; 9 matchPolicy string*; "
            "10 objectSelector metav1.LabelSelector*; 11 matchConditions []MatchCondition"),
        "ValidatingWebhookConfiguration": "1 metadata metav1.ObjectMeta; 2 Webhooks=webhooks []ValidatingWebhook",
        "WebhookClientConfig": "1 service ServiceReference*; 2 caBundle bytes; 3 url string*",
        "MatchCondition": "1 name string!; 2 expression string!",
        "AuditAnnotation": "1 key string!; 2 valueExpression string!",
        "ExpressionWarning": "2 fieldRef string!; 3 warning string!",
        "MatchResources": (
            "1 namespaceSelector metav1.LabelSelector*; 2 objectSelector metav1.LabelSelector*; "
            "3 resourceRules []NamedRuleWithOperations; 4 excludeResourceRules []NamedRuleWithOperations; 7 matchPolicy string*"),
        "NamedRuleWithOperations": "1 resourceNames []string; 2 ruleWithOperations RuleWithOperations^",
        "ParamKind": "1 apiVersion string; 2 kind string",
        "ParamRef": "1 name string; 2 namespace string; 3 selector metav1.LabelSelector*; 4 parameterNotFoundAction string*",
        "TypeChecking": "1 expressionWarnings []ExpressionWarning",
        "ValidatingAdmissionPolicy": (
            "1 metadata metav1.ObjectMeta; 2 spec ValidatingAdmissionPolicySpec; "
            "3 status ValidatingAdmissionPolicyStatus"),
        "ValidatingAdmissionPolicyBinding": "1 metadata metav1.ObjectMeta; 2 spec ValidatingAdmissionPolicyBindingSpec",
        "ValidatingAdmissionPolicyBindingSpec": (
            "1 policyName string; 2 paramRef ParamRef*; 3 matchResources MatchResources*; "
            "4 validationActions []string"),
        "ValidatingAdmissionPolicySpec": (
            "1 paramKind ParamKind*; 2 matchConstraints MatchResources*; "
            "3 validations []Validation; 4 failurePolicy string*; 5 auditAnnotations []AuditAnnotation; "
            "6 matchConditions []MatchCondition; 7 variables []Variable"),
        "ValidatingAdmissionPolicyStatus": (
            "1 observedGeneration int64; 2 typeChecking TypeChecking*; "
            "3 conditions []metav1.Condition"),
        "Validation": "1 Expression=expression string!; 2 message string; 3 reason string*; 4 messageExpression string",
        "Variable": "1 Name=name string!; 2 Expression=expression string!",
        "ApplyConfiguration": "1 expression string",
        "JSONPatch": "1 expression string",
        "MutatingAdmissionPolicy": "1 metadata metav1.ObjectMeta; 2 spec MutatingAdmissionPolicySpec",
        "MutatingAdmissionPolicyBinding": "1 metadata metav1.ObjectMeta; 2 spec MutatingAdmissionPolicyBindingSpec",
        "MutatingAdmissionPolicyBindingSpec": "1 policyName string; 2 paramRef ParamRef*; 3 matchResources MatchResources*",
        "MutatingAdmissionPolicySpec": (
            "1 paramKind ParamKind*; 2 matchConstraints MatchResources*; 3 variables []Variable; "
            "4 mutations []Mutation; 5 failurePolicy string*; 6 matchConditions []MatchCondition; 7 reinvocationPolicy string"),
        "Mutation": "2 patchType string!; 3 applyConfiguration ApplyConfiguration*; 4 jsonPatch JSONPatch*",
    },
    "admissionregistrationv1alpha1": {  # k8s.io.api.admissionregistration.v1alpha1, v0.26.15..v0.36.3
        "MatchResources": (
            "1 namespaceSelector metav1.LabelSelector*; 2 objectSelector metav1.LabelSelector*; "
            "3 resourceRules []NamedRuleWithOperations; 4 excludeResourceRules []NamedRuleWithOperations; 7 matchPolicy string*"),
        "NamedRuleWithOperations": "1 resourceNames []string; 2 ruleWithOperations admissionregistrationv1.RuleWithOperations^",
        "ParamKind": "1 apiVersion string; 2 kind string",
        "ParamRef": "1 name string; 2 namespace string; 3 selector metav1.LabelSelector*; 4 parameterNotFoundAction string*",
        "ValidatingAdmissionPolicy": (
            "1 metadata metav1.ObjectMeta; 2 spec ValidatingAdmissionPolicySpec; "
            "3 status ValidatingAdmissionPolicyStatus"),
        "ValidatingAdmissionPolicyBinding": "1 metadata metav1.ObjectMeta; 2 spec ValidatingAdmissionPolicyBindingSpec",
        "ValidatingAdmissionPolicyBindingSpec": (
            "1 policyName string; 2 paramRef ParamRef*; 3 matchResources MatchResources*; "
            "4 validationActions []string"),
        "ValidatingAdmissionPolicySpec": (
            "1 paramKind ParamKind*; 2 matchConstraints MatchResources*; "
            "3 validations []Validation; 4 failurePolicy string*; 5 auditAnnotations []AuditAnnotation; "
            "6 matchConditions []MatchCondition; 7 variables []Variable"),
        "Validation": "1 Expression=expression string!; 2 message string; 3 reason string*; 4 messageExpression string",
        "AuditAnnotation": "1 key string!; 2 valueExpression string!",
        "ExpressionWarning": "2 fieldRef string!; 3 warning string!",
        "MatchCondition": "1 name string!; 2 expression string!",
        "TypeChecking": "1 expressionWarnings []ExpressionWarning",
        "ValidatingAdmissionPolicyStatus": (
            "1 observedGeneration int64; 2 typeChecking TypeChecking*; "
            "3 conditions []metav1.Condition"),
        "Variable": "1 Name=name string!; 2 Expression=expression string!",
        "ApplyConfiguration": "1 expression string",
        "JSONPatch": "1 expression string",
        "MutatingAdmissionPolicy": "1 metadata metav1.ObjectMeta; 2 spec MutatingAdmissionPolicySpec",
        "MutatingAdmissionPolicyBinding": "1 metadata metav1.ObjectMeta; 2 spec MutatingAdmissionPolicyBindingSpec",
        "MutatingAdmissionPolicyBindingSpec": "1 policyName string; 2 paramRef ParamRef*; 3 matchResources MatchResources*",
        "MutatingAdmissionPolicySpec": (
            "1 paramKind ParamKind*; 2 matchConstraints MatchResources*; 3 variables []Variable; "
            "4 mutations []Mutation; 5 failurePolicy string*; 6 matchConditions []MatchCondition; 7 reinvocationPolicy string"),
        "Mutation": "2 patchType string!; 3 applyConfiguration ApplyConfiguration*; 4 jsonPatch JSONPatch*",
    },
    "admissionregistrationv1beta1": {  # k8s.io.api.admissionregistration.v1beta1, v0.16.15..v0.36.3
        "MutatingWebhook": (
            "1 name string!; 2 clientConfig WebhookClientConfig; "
            "3 rules []admissionregistrationv1.RuleWithOperations; 4 failurePolicy string*; "
            "5 namespaceSelector metav1.LabelSelector*; 6 sideEffects string*; 7 timeoutSeconds int32*; "
            "8 admissionReviewVersions []string; 9 matchPolicy string*; 10 reinvocationPolicy string*; "
            "11 objectSelector metav1.LabelSelector*; 12 matchConditions []MatchCondition"),
        "MutatingWebhookConfiguration": "1 metadata metav1.ObjectMeta; 2 Webhooks=webhooks []MutatingWebhook",
        "ServiceReference": "1 namespace string!; 2 name string!; 3 path string*; 4 port int32*",
        "ValidatingWebhook": (
            "1 name string!; 2 clientConfig WebhookClientConfig; "
            "3 rules []admissionregistrationv1.RuleWithOperations; 4 failurePolicy string*; "
            "5 namespaceSelector metav1.LabelSelector*; 6 sideEffects string*; 7 timeoutSeconds int32*; "
            "8 admissionReviewVersions []string; 9 matchPolicy string*; 10 objectSelector metav1.LabelSelector*; "
            "11 matchConditions []MatchCondition"),
        "ValidatingWebhookConfiguration": "1 metadata metav1.ObjectMeta; 2 Webhooks=webhooks []ValidatingWebhook",
        "WebhookClientConfig": "1 service ServiceReference*; 2 caBundle bytes; 3 url string*",
        "MatchCondition": "1 name string!; 2 expression string!",
        "AuditAnnotation": "1 key string!; 2 valueExpression string!",
        "ExpressionWarning": "2 fieldRef string!; 3 warning string!",
        "MatchResources": (
            "1 namespaceSelector metav1.LabelSelector*; 2 objectSelector metav1.LabelSelector*; "
            "3 resourceRules []NamedRuleWithOperations; 4 excludeResourceRules []NamedRuleWithOperations; 7 matchPolicy string*"),
        "NamedRuleWithOperations": "1 resourceNames []string; 2 ruleWithOperations admissionregistrationv1.RuleWithOperations^",
        "ParamKind": "1 apiVersion string; 2 kind string",
        "ParamRef": "1 name string; 2 namespace string; 3 selector metav1.LabelSelector*; 4 parameterNotFoundAction string*",
        "TypeChecking": "1 expressionWarnings []ExpressionWarning",
        "ValidatingAdmissionPolicy": (
            "1 metadata metav1.ObjectMeta; 2 spec ValidatingAdmissionPolicySpec; "
            "3 status ValidatingAdmissionPolicyStatus"),
        "ValidatingAdmissionPolicyBinding": "1 metadata metav1.ObjectMeta; 2 spec ValidatingAdmissionPolicyBindingSpec",
        "ValidatingAdmissionPolicyBindingSpec": (
            "1 policyName string; 2 paramRef ParamRef*; 3 matchResources MatchResources*; "
            "4 validationActions []string"),
        "ValidatingAdmissionPolicySpec": (
            "1 paramKind ParamKind*; 2 matchConstraints MatchResources*; "
            "3 validations []Validation; 4 failurePolicy string*; 5 auditAnnotations []AuditAnnotation; "
            "6 matchConditions []MatchCondition; 7 variables []Variable"),
        "ValidatingAdmissionPolicyStatus": (
            "1 observedGeneration int64; 2 typeChecking TypeChecking*; "
            "3 conditions []metav1.Condition"),
        "Validation": "1 Expression=expression string!; 2 message string; 3 reason string*; 4 messageExpression string",
        "Variable": "1 Name=name string!; 2 Expression=expression string!",
        "ApplyConfiguration": "1 expression string",
        "JSONPatch": "1 expression string",
        "MutatingAdmissionPolicy": "1 metadata metav1.ObjectMeta; 2 spec MutatingAdmissionPolicySpec",
        "MutatingAdmissionPolicyBinding": "1 metadata metav1.ObjectMeta; 2 spec MutatingAdmissionPolicyBindingSpec",
        "MutatingAdmissionPolicyBindingSpec": "1 policyName string; 2 paramRef ParamRef*; 3 matchResources MatchResources*",
        "MutatingAdmissionPolicySpec": (
            "1 paramKind ParamKind*; 2 matchConstraints MatchResources*; 3 variables []Variable; "
            "4 mutations []Mutation; 5 failurePolicy string*; 6 matchConditions []MatchCondition; 7 reinvocationPolicy string"),
        "Mutation": "2 patchType string!; 3 applyConfiguration ApplyConfiguration*; 4 jsonPatch JSONPatch*",
    },
}
