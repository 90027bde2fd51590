"""Sub-commands of the ``voicebot`` command line.

Every module in this package that defines ``register(subparsers)`` adds its commands; the
registered handler receives the parsed ``argparse.Namespace`` and returns the exit code.
Keeping one module per area lets each layer own its commands without touching ``cli.py``.
"""
