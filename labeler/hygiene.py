"""Prompt hygiene after the InstructGPT recipe: normalize, dedup keys, split by user, scrub PII.

Pure functions, called once per imported prompt, so each costs a few microseconds: the import
must reach 50,000 prompts/s end to end. Hashes are blake2b, never Python's `hash()`, so keys and
splits are the same in every process and on every machine.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from hashlib import blake2b
from typing import Any, Literal

from labeler.errors import Invalid

Split = Literal["train", "valid", "test"]
SPLITS: tuple[Split, Split, Split] = ("train", "valid", "test")
DEFAULT_RATIOS = (80, 10, 10)
_SPLIT_SALT = b"labeler-split\x00"


def normalize_text(messages: Iterable[Any]) -> str:
    """Roles and contents joined, NFKC-normalized, casefolded, whitespace collapsed to single spaces."""
    parts = []
    for m in messages:
        role, content = (m["role"], m["content"]) if isinstance(m, dict) else (m.role, m.content)
        parts.append(f"{role}: {content}")
    text = "\n".join(parts)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def content_hash(normalized: str) -> str:
    """32 hex characters identifying a normalized text (blake2b, 16 bytes)."""
    return blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def prefix_hash(normalized: str, chars: int) -> str | None:
    """The hash of the first `chars` characters (the long-common-prefix dedup key), or None if shorter."""
    if chars < 0:
        raise Invalid(f"prefix length must be 0 or more characters, got {chars}")
    if chars == 0 or len(normalized) < chars:
        return None
    return content_hash(normalized[:chars])


def root_key(messages: Sequence[Any], normalized: str | None = None, chash: str | None = None) -> str:
    """The conversation's root: the hash of its first user turn, normalized as dedup normalizes.

    Prompts without an originating user are split by this key, so every continuation of one
    dialogue (HH-RLHF repeats a conversation's opening in longer ones) lands in the same split.
    For a prompt that is a single user turn it is the prompt's own content hash (`normalized` and
    `chash` spare the work), the key such prompts were always split by.
    """
    if len(messages) == 1 and chash is not None:
        return chash
    if len(messages) == 1 and normalized is not None:
        return content_hash(normalized)
    first = next((m for m in messages if _role(m) == "user"), messages[0])
    return content_hash(normalize_text([first]))


def _role(m: Any) -> str:
    return m["role"] if isinstance(m, dict) else m.role


def assign_split(key: str, ratios: tuple[int, int, int] = DEFAULT_RATIOS) -> Split:
    """`train`, `valid` or `test` for an originating user: the same key always lands in the same split."""
    total = sum(ratios)
    if len(ratios) != 3 or total <= 0 or min(ratios) < 0:
        raise Invalid(f"split ratios must be three numbers of 0 or more with a positive sum, got {ratios}")
    digest = blake2b(_SPLIT_SALT + key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    bucket = int.from_bytes(digest, "big") % total
    if bucket < ratios[0]:
        return "train"
    return "valid" if bucket < ratios[0] + ratios[1] else "test"


def split_parts(text: str, n: int = 3) -> list[int] | None:
    """`"80/10/10"` as `[80, 10, 10]`: `n` whole numbers separated by `/`; None when it is not that shape."""
    parts = [p.strip() for p in str(text).split("/")]
    if len(parts) != n or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    return [int(p) for p in parts]


def parse_split(text: str) -> tuple[int, int, int]:
    """`"80/10/10"` as `(80, 10, 10)`: three whole numbers, train/valid/test, summing to 100."""
    parts = split_parts(text)
    if parts is None:
        raise Invalid(f"split `{text}`: expected three whole numbers train/valid/test, like `80/10/10`")
    train, valid, test = parts
    if train + valid + test != 100:
        raise Invalid(f"split `{text}`: the parts must sum to 100, got {train + valid + test}")
    return train, valid, test


# --- PII ---------------------------------------------------------------------------------------
# Speed: a prompt is scanned once by a cheap gate per kind (a character test, or a regex that
# starts with a character class, which `re` scans fast); the exact patterns then run only on the
# few candidate spans. Boundaries are lookarounds, so `x5551234567` or `v1.2.3.4.5` stay whole.

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_IPV6_SEED = re.compile(r"::|:[0-9A-Fa-f]{1,4}:")  # starts with a literal: found at memchr speed
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_WORD_CHAR = re.compile(r"\w").fullmatch
# A run of ASCII digits and the separators numbers are written with, at least 6 characters long.
_RUN = re.compile(r"[0-9+(][0-9.() +-]{5,}")
_IPV4_PART = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_NUMBER = re.compile(
    r"(?<![\w.,+-])(?:"
    # cards: 13-19 digits run together, or grouped as printed (4-4-4-4[-3], 4-6-5)
    r"(?P<CARD>\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{4,5})"
    rf"|(?P<IP>(?:{_IPV4_PART}\.){{3}}{_IPV4_PART})"
    r"|(?P<PHONE>\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +44 20 7946 0958
    r"|(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}"  # (555) 123-4567, 555-123-4567, 555.123.4567
    r"|0\d(?:[ .-]\d{2}){4}"  # 06 12 34 56 78
    r"|0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4})"  # 020 7946 0958, 0800 123 4567
    r")(?![\w-]|[.,]\d)"
)
_TOKENS = {"email": "[EMAIL]", "card": "[CARD]", "ip": "[IP]", "phone": "[PHONE]"}


def scrub_pii(text: str) -> tuple[str, Counter[str]]:
    """Replace emails, phones, cards and IPs with `[EMAIL]`, `[PHONE]`, `[CARD]`, `[IP]`; count each kind."""
    counts: Counter[str] = Counter()
    if "@" in text:
        text = _EMAIL.sub(lambda m: _count(counts, "email"), text)
    if _IPV6_SEED.search(text):
        text = _scrub_ipv6(text, counts)
    runs = [m.span() for m in _RUN.finditer(text) if _may_hold_number(m.group())]
    if runs:
        text = _scrub_numbers(text, runs, counts)
    return text, counts


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum payment cards carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _scrub_numbers(text: str, runs: list[tuple[int, int]], counts: Counter[str]) -> str:
    """Cards, IPv4 addresses and phone numbers inside the candidate runs of `text`."""
    pieces, done = [], 0
    for start, end in runs:
        # the window reaches 2 characters past the run so the closing lookahead sees what follows
        for m in _NUMBER.finditer(text, start, min(len(text), end + 2)):
            kind = (m.lastgroup or "").lower()
            if kind == "card" and not _real_card(m.group()):
                continue
            if kind == "phone" and not 7 <= sum(c.isdigit() for c in m.group()) <= 15:
                continue
            pieces += [text[done : m.start()], _count(counts, kind)]
            done = m.end()
    if not done:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _scrub_ipv6(text: str, counts: Counter[str]) -> str:
    """IPv6 addresses: each `::` or `:hex:` seed grown to the whole hex-and-colon token, then checked."""
    pieces, copied, scanned, n = [], 0, 0, len(text)
    for m in _IPV6_SEED.finditer(text):
        if m.start() < scanned:
            continue
        start, end = m.start(), m.end()
        while start > 0 and text[start - 1] in _IPV6_CHARS:
            start -= 1
        while end < n and text[end] in _IPV6_CHARS:
            end += 1
        scanned = end
        if text[end - 1] == "." or (text[end - 1] == ":" and text[end - 2] != ":"):
            end -= 1  # a full stop or a label's colon after the address, not part of it
        if not (_WORD_CHAR(text[start - 1 : start]) or _WORD_CHAR(text[end : end + 1])) and _real_ipv6(
            text[start:end]
        ):
            pieces += [text[copied:start], _count(counts, "ip")]
            copied = end
    if not pieces:
        return text
    pieces.append(text[copied:])
    return "".join(pieces)


def _may_hold_number(run: str) -> bool:
    """True when a run has the 7 digits a phone or card needs, or the 3 dots of an IPv4 address."""
    return run.count(".") >= 3 or sum(c.isdigit() for c in run) >= 7


def _count(counts: Counter[str], kind: str) -> str:
    """Count one finding of `kind` and return its placeholder."""
    counts[kind] += 1
    return _TOKENS[kind]


def _real_card(found: str) -> bool:
    """13-19 digits, not all the same, passing Luhn."""
    digits = found.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def _real_ipv6(found: str) -> bool:
    """A valid IPv6 address that looks like one: `dec::add`, `x[1::2]` and `::1` do not."""
    groups = [g for g in found.split(":") if g]
    if not any(c.isdigit() for c in found) or not (len(groups) >= 3 or any(len(g) >= 3 for g in groups)):
        return False
    try:
        ipaddress.IPv6Address(found)
    except ValueError:
        return False
    return True
