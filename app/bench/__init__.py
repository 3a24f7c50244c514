"""Benchmarks behind `fieldcast bench NAME`.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> dict``: the
returned dict is the JSON result. `app.commands.bench` prints it (``--json``) or as a table, and
``--out FILE`` saves the JSON. Figures, not pass/fail: nothing here asserts a speed.
"""
