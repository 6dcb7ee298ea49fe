"""``lipdub review``: a local web page to review a dub, line by line, and finish it.

Needs the ``review`` extra (``pip install 'lipdub[review]'``: Starlette and uvicorn).
:class:`~lipdub.review.session.ReviewSession` is the work directory opened for review
(no web code); :class:`~lipdub.review.server.ReviewServer` serves the page on
127.0.0.1 under a random secret path. Every path the page touches goes through
:class:`~lipdub.review.access.ReviewFiles`. See docs/review.md.
"""

from __future__ import annotations

from lipdub.review.session import ReviewSession

__all__ = ["ReviewSession"]
