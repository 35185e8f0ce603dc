"""The contract every front end and process shares: the approval modes, the engine's
read-only state. Modules here import only the standard library and each other, so
the CLI's parser and the app's first frame can read them."""
