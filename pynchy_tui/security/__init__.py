"""Security: the policy gate, approvals, audit."""
