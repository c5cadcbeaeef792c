"""The one base class of every error that means "bad user input" rather than a bug.

Each module keeps its own specific error (``BiLMConfigError``, ``DataError``, ...), and each derives from
``UserError`` too, so every entry point (``train.py``, ``pretrain.py``, ``python -m elmo_lab``) catches one type and
prints one line ``error: <message>`` with exit status 2 instead of a traceback.  Anything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """Bad input from the user (a file, a config value, a name); the message is one line that says what and where."""
