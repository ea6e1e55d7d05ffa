"""Containers: OCI bundles run by runc under conmon, their state, logs and exec."""
