"""Task modules: one file per task (``sentiment.py``, ...) plus one yaml under ``conf/task/``.

See ``elmo_lab/training/api.py`` for what a task module provides.
"""
