"""The ``python -m elmo_lab <command>`` tools, one module per command (``embed``, ``fetch``, ``cache``, ...); the
dispatcher is ``elmo_lab.__main__``."""
