"""Volume integration tests: the container fixtures of tests/integration/containers/harness.py."""

from tests.integration.containers.harness import containers

__all__ = ["containers"]
