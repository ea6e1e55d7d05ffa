"""Container integration tests: fixtures live in harness.py (shared with volumes)."""

from tests.integration.containers.harness import containers

__all__ = ["containers"]
