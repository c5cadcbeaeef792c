"""Sweep reports: finding and grouping runs (``runs``), tables and the command (``tables``), plots (``plots``)."""
