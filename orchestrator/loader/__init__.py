"""The stack-file loader: explicit stages over plain data, typed at the end.

discover (files, project name, env) -> read (yamlread) -> interpolate ->
include / extends -> merge overrides -> validate (schemas/stack.schema.json)
-> profiles -> normalize -> bind (model) -> semantic checks. Each stage is its own module; ``load.py`` runs them in
order. Positions of every YAML node travel beside the plain data in a
``SourceMap`` (see ``source.py``) so that any stage can say file:line:column.
"""
