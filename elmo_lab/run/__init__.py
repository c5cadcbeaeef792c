"""Run plumbing shared by both entry points (``train.py``, ``pretrain.py``): the Hydra command line (one-line
errors, ``--help``) in ``cli.py`` and the run directory (the config check of a rerun, loggers) in ``run_dir.py``.

Light: neither module imports torch or Lightning, and nothing here knows tasks or the biLM.
"""
