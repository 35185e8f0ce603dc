"""Headless output: the event stream rendered for scripts and CI, one renderer per format.

- ``text`` (``text.py``): the answer streams to stdout; tool activity goes to
  stderr, one line per call (``tool=edit path=src/x.py ok``), coloured only when
  stderr is a terminal and ``--no-color`` is not given. Everything that came from
  the model, a tool or a server is stripped of terminal controls first: it is
  untrusted and must not drive the terminal. A running tool's
  ``tool_output_delta`` is not printed: the call's one line follows when it ends.
- ``json`` (``json_result.py``): the same lines on stderr, and one compact JSON
  object on the last line of stdout, written when the run ends.
- ``stream-json`` (``stream_json.py``): one JSON object per line per engine event
  (``docs/events.md``); each ``text_delta`` carries only its own text, so the
  output stays linear in the answer's size.

``run.py`` is ``tau -p``: it opens the engine and drives one of these.
"""
