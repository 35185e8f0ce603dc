"""Subcommands of the ``tau`` CLI, one module each (``add_parser`` + ``run``)."""
