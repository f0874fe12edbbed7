"""Everything a Redis database holds, as text: Arrow IPC blobs (compressed) decoded to rows.

Privacy tests search this for personal data; searching the raw bytes would miss what LZ4 hides.
"""

from __future__ import annotations

import io

import redis

from ioc.streams import decode_frame


def _text(value: bytes) -> str:
    if value.startswith((b"ARROW1", b"\xff\xff\xff\xff")):  # Arrow IPC, file or stream format
        frame = decode_frame(value)
        # and every byte of its buffers, uncompressed: a filtered frame's string buffers can still
        # hold the values of the rows removed, which the rows themselves no longer show
        raw = io.BytesIO()
        frame.write_ipc_stream(raw)
        return frame.write_csv() + raw.getvalue().decode("utf-8", errors="replace")
    return value.decode("utf-8", errors="replace")


def text_of(client: redis.Redis, key: bytes) -> str:
    """One key's name and content as text."""
    kind = client.type(key).decode()
    parts = [key.decode()]
    if kind == "string":
        parts.append(_text(client.get(key)))
    elif kind == "hash":
        parts += [_text(k) + "=" + _text(v) for k, v in client.hgetall(key).items()]
    elif kind == "stream":
        for _id, fields in client.xrange(key):
            parts += [_text(k) + "=" + _text(v) for k, v in fields.items()]
    elif kind == "zset":
        parts += [_text(m) for m in client.zrange(key, 0, -1)]
    elif kind in ("list", "set"):
        members = client.lrange(key, 0, -1) if kind == "list" else client.smembers(key)
        parts += [_text(m) for m in members]
    return "\n".join(parts)


def everything(client: redis.Redis) -> str:
    return "\n".join(text_of(client, key) for key in client.scan_iter("*", count=1000))
