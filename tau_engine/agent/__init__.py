"""The agent loop: prompt -> model -> tools -> model ... -> answer, as typed events."""
