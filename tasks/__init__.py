"""Task modules: one file per task (``sentiment.py``, ...) plus one yaml under ``conf/task/``.

See ``tasks/base.py`` for what a task module provides.
"""
