"""Text handling shared by the engine and every front end."""
