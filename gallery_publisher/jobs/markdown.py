"""Text from elsewhere (URLs, Azure's and a source server's error texts) made inert for Markdown.

The job summary goes to Mattermost and to GitHub's step summary, so whoever controls a source bucket
or words an error could otherwise post `@channel`, links, images or HTML there. What is ours to say
stays plain; everything else goes through `inert` or `code_span`.
"""

from __future__ import annotations

import re

# Look-alikes that render the same to a reader and mean nothing to Markdown or to mentions.
_INERT = str.maketrans({"@": "\uff20", "[": "\uff3b", "]": "\uff3d", "!": "\uff01", "<": "\uff1c", "`": "'"})
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
MAX_SHOWN = 600  # characters of one remote text in a summary


def inert(text: str) -> str:
    """One line, no backticks, and `@ [ ] ! <` replaced by full-width look-alikes."""
    flat = _BREAKS.sub(" ", text).translate(_INERT).strip()
    return flat if len(flat) <= MAX_SHOWN else flat[:MAX_SHOWN] + "…"


def code_span(text: str) -> str:
    """`text` in a code span that nothing in it can end (backticks removed), made inert too."""
    shown = inert(text)
    return f"`{shown}`" if shown else ""
