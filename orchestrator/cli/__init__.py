"""The `stack` command line (Typer). The only place that prints, colours or exits.

Command tree (each group in its own module; heavy imports stay inside the
command functions so `stack config -q` never loads the engine):

    stack [global options] COMMAND
      project commands   config, graph              (config_cmd, graph_cmd)
                         up, down, plan, ps, logs, exec, run, start, stop,
                         restart, kill, pause, unpause, rm, pull, push, build,
                         top, port, events, cp, ls, wait, images   (issue 7)
      engine groups      image, container, network, volume, system
                         (image.py, container.py, network.py, volume.py, system.py)
"""
