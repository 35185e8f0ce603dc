"""tau's engine: config, state, sessions, providers, tools, safety and the agent loop.

This package never imports Textual, Rich or prompt-toolkit; front ends in
``tau_tui`` consume its typed event stream. Importing it is cheap: submodules
are imported where they are used.
"""

__version__ = "0.1.0"
