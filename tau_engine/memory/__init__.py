"""Learned memory: entries the user or the model writes, found by search, offered per turn.

Instructions (the identity files and ``AGENTS.md``) are a different kind of memory: they
are written by people and always in the system prompt (``agent/prompt.py``). Learned
memory lives in the store (``MemoryStore``, ``store/api.py``), is searched, and is offered to the
model within a budget at the start of each prompt (``retrieval.py``). The two never mix:
memory entries never reach the system prompt, and the memory tools write only the store.
"""
