"""tau's front ends: the CLI, the Textual app, the headless printer and the line REPL.

They render the engine's typed event stream and hold no business logic.
"""
