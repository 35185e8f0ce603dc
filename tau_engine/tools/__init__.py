"""The tools a model can call: files, search, shell. Each is one small class."""
