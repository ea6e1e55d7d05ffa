"""stack: declarative multi-container stacks on Linux.

The orchestrator package holds the CLI (orchestrator.cli), the stack-file
loader (orchestrator.loader), the typed model (model), the dependency graph
(graph), what `up` wants (convert, confighash) and sees (observe), the planner
(plan), the applier (apply, conditions, parallel, progress), `down` (down), and
the memo that lets a no-op `up -d` skip planning (plancache). It may import
``runtime.api`` (types and client); ``runtime`` never imports ``orchestrator``.
"""

__version__ = "0.1.0"
