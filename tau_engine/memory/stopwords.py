"""English words too common to say what a prompt is about.

Per-turn retrieval searches a prompt's words in OR mode; with these left out, an entry
is offered because it shares the prompt's subject ("pytest", "deploy"), not because it
contains "the" or "how". User and model searches keep every word they type.
"""

from __future__ import annotations

_WORDS = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each either else etc ever every few for from further get
gets got had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
herself him himself his how how's however i i'd i'll i'm i've if in into is isn't it it's
its itself just let let's like me more most much must mustn't my myself need no nor
not now of off on once only or other ought our ours ourselves out over own please same
shall shan't she she'd she'll she's should shouldn't so some such than that that's the
their theirs them themselves then there there's these they they'd they'll they're they've
this those through to too under until up upon us use used using very via was wasn't we
we'd we'll we're we've were weren't what what's when when's where where's whether which
while who who's whom why why's will with won't would wouldn't yes yet you you'd you'll
you're you've your yours yourself yourselves
"""

STOPWORDS = frozenset(_WORDS.split())
