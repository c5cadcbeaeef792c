"""The biLM layer store shared by runs and processes: entries on disk (``entry``), the store that finds, builds,
evicts and locks them (``store``).  ``python -m elmo_lab cache`` (``elmo_lab.cli.cache``) inspects and clears it."""
