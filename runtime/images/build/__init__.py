"""Building images from Dockerfiles, with a step cache.

Modules, each with one job:

    parser        Dockerfile text -> Instructions (directives, continuations, heredocs, flags)
    words         the shell-like word lexer: splitting, quote removal, ``$VAR`` expansion
    dockerignore  Docker's .dockerignore pattern rules
    context       the build context: files after .dockerignore, their digests
    plan          Instructions -> stages, build args, the stages a target needs
    state         a stage's working state; the config-only instructions (ENV, CMD, ...)
    cache         the step cache (key: parent + inputs -> result)
    rootview      read-only merged view of a layer stack (no mount needed)
    copy          COPY / ADD written straight into a layer tar
    layer         an overlay upper dir or file entries -> an OCI layer tar (whiteouts)
    runspec       a RUN's argv and --mount options
    run           RUN steps in containers through the container part
    builder       executes a plan against the image store; the entry point ``build``

``runtime.engine.LocalEngine.image_build`` composes ``builder.build`` with a
``run.ContainerStepRunner`` (the builder spans the image and container parts).
"""
