"""Plain-text renderers of the operator snapshot (no Textual, no Rich): the markers of
``tau status`` and the fixed-width panels of ``tau shell --no-color`` and ``tau watch``."""
