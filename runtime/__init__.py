"""The stack engine: images, containers, networks, volumes and the daemon.

Public surface: ``runtime.api`` (the typed engine interface and its data
types) and ``runtime.errors`` (the error categories). Everything else is an
implementation detail of one part. ``runtime`` never imports ``orchestrator``.
"""
