"""Small helpers shared across the package: atomic writes, downloads and the archive registry, the user-error type,
per-step seeding.  Nothing here knows about biLMs or tasks."""
