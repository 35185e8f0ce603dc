"""What a workspace brings besides code: its trust decision (and later skills, templates)."""
