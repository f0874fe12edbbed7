"""Everything a Redis database holds, as text: Arrow IPC blobs (compressed) decoded to rows.

Privacy tests search this for personal data; searching the raw bytes would miss what LZ4 hides.
The functions live in :mod:`ioc.testing`, beside the connector conformance suite that uses them.
"""

from __future__ import annotations

from ioc.testing import everything, text_of

__all__ = ["everything", "text_of"]
