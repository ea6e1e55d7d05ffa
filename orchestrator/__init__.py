"""stack: declarative multi-container stacks on Linux.

The orchestrator package holds the CLI (orchestrator.cli), the stack-file
loader (orchestrator.loader), the typed model, the dependency graph and, later,
the planner and the applier. It may import ``runtime.api`` (types and client);
``runtime`` never imports ``orchestrator``.
"""

__version__ = "0.1.0"
