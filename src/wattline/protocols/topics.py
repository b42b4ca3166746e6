"""MQTT topic helpers shared by the protocols: prefixes, matching, subscription filters."""

from __future__ import annotations


def check_prefix(prefix: str) -> str:
    """A topic prefix: empty, or '/'-separated non-empty levels without wildcards."""
    if prefix and ("+" in prefix or "#" in prefix or "\0" in prefix or "" in prefix.split("/")):
        raise ValueError(
            f"topic prefix {prefix!r} must be levels separated by '/', "
            "without wildcards or empty levels"
        )
    return prefix


def levels_under(topic: str, prefix: str) -> list[str] | None:
    """The topic levels after `prefix`, or None when the topic is not under it."""
    if not prefix:
        return topic.split("/")
    if not topic.startswith(prefix + "/"):
        return None
    return topic[len(prefix) + 1 :].split("/")


def topic_filter(prefix: str, *levels: str) -> str:
    """A subscription filter: the prefix (when there is one) followed by the levels."""
    return "/".join((prefix, *levels) if prefix else levels)
