"""The migration: address mapping between CIDRs, per-kind rules, the plan and its application."""
