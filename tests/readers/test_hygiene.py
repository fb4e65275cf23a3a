"""Prompt hygiene: normalization, dedup keys, user-stable splits and PII scrubbing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.errors import Invalid
from labeler.hygiene import (
    assign_split,
    content_hash,
    luhn_ok,
    normalize_text,
    parse_split,
    prefix_hash,
    root_key,
    scrub_pii,
)
from labeler.readers import Message

REPO = Path(__file__).resolve().parents[2]


# --- normalize_text, content_hash, prefix_hash -----------------------------------------------


def test_normalize_joins_roles_and_folds():
    messages = [
        Message(role="system", content="Be  BRIEF."),
        Message(role="user", content="\t\uff28\uff45\uff4c\uff4c\uff4f\n\n \ufb01ne Stra\u00dfe "),
    ]
    assert normalize_text(messages) == "system: be brief. user: hello fine strasse"


def test_normalize_accepts_dicts_and_equates_trivial_variants():
    a = normalize_text([{"role": "user", "content": "What is  the capital of France?"}])
    b = normalize_text([Message(role="user", content="what is the CAPITAL of france?\n")])
    assert a == b == "user: what is the capital of france?"
    assert content_hash(a) == content_hash(b)


def test_roles_matter():
    assert normalize_text([{"role": "user", "content": "hi"}]) != normalize_text(
        [{"role": "system", "content": "hi"}]
    )


def test_content_hash():
    h = content_hash("user: hello")
    assert len(h) == 32 and int(h, 16) >= 0
    assert h == content_hash("user: hello") != content_hash("user: hello!")
    assert h == "47f17d560f0c21acdabab1660805ef20"  # pinned: stored hashes must not change


def test_content_hash_is_blake2b_16():
    from hashlib import blake2b

    assert content_hash("x") == blake2b(b"x", digest_size=16).hexdigest()


def test_prefix_hash():
    text = "user: " + "a" * 100
    assert prefix_hash(text, 0) is None
    assert prefix_hash(text, 200) is None
    assert (
        prefix_hash(text, 50) == prefix_hash(text + " and then something else", 50) == content_hash(text[:50])
    )
    assert prefix_hash(text, len(text)) == content_hash(text)
    with pytest.raises(Invalid, match="prefix length"):
        prefix_hash(text, -1)


# --- splits --------------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=40))
def test_assign_split_is_deterministic(key):
    assert assign_split(key) == assign_split(key) in ("train", "valid", "test")
    assert assign_split(key, (100, 0, 0)) == "train"
    assert assign_split(key, (0, 0, 100)) == "test"


@settings(max_examples=20, deadline=None)
@given(
    st.tuples(st.integers(0, 100), st.integers(0, 100)).filter(lambda t: t[0] + t[1] <= 100),
    st.integers(0, 10**6),
)
def test_assign_split_respects_ratios(parts, salt):
    train, valid = parts
    ratios = (train, valid, 100 - train - valid)
    n = 20_000
    counts = Counter(assign_split(f"user-{salt}-{i}", ratios) for i in range(n))
    for name, share in zip(("train", "valid", "test"), ratios, strict=True):
        assert abs(counts[name] / n - share / 100) < 0.02, (ratios, counts)


def test_assign_split_is_stable_across_processes():
    keys = [f"user{i}" for i in range(50)]
    here = [assign_split(k) for k in keys]
    code = (
        "from labeler.hygiene import assign_split\n"
        "print(' '.join(assign_split(f'user{i}') for i in range(50)))"
    )
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == here
    # pinned, so a change of hash or salt (which would move users between splits) is noticed
    names = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
    assert [assign_split(k) for k in names] == [
        "test",
        "train",
        "test",
        "train",
        "valid",
        "train",
        "train",
        "train",
        "valid",
        "valid",
    ]


def test_assign_split_bad_ratios():
    with pytest.raises(Invalid):
        assign_split("u", (0, 0, 0))
    with pytest.raises(Invalid):
        assign_split("u", (90, 20, -10))


@pytest.mark.parametrize(
    "text, parts", [("80/10/10", (80, 10, 10)), (" 90 / 5 / 5 ", (90, 5, 5)), ("100/0/0", (100, 0, 0))]
)
def test_parse_split(text, parts):
    assert parse_split(text) == parts


@pytest.mark.parametrize(
    "text, message",
    [
        ("80/10", "expected three whole numbers"),
        ("80/10/5", "must sum to 100, got 95"),
        ("80/10/10.0", "expected three whole numbers"),
        ("80/-10/30", "expected three whole numbers"),
        ("a/b/c", "expected three whole numbers"),
        ("", "expected three whole numbers"),
    ],
)
def test_parse_split_refuses(text, message):
    with pytest.raises(Invalid, match=message):
        parse_split(text)


# --- PII -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, scrubbed, kinds",
    [
        ("mail john.doe+tag@example.co.uk now", "mail [EMAIL] now", {"email": 1}),
        ("call +1 (555) 123-4567 or 555.123.4567", "call [PHONE] or [PHONE]", {"phone": 2}),
        ("UK +44 20 7946 0958, FR 06 12 34 56 78", "UK [PHONE], FR [PHONE]", {"phone": 2}),
        ("card 4111 1111 1111 1111.", "card [CARD].", {"card": 1}),
        ("card 4111-1111-1111-1111 and amex 3782 822463 10005", "card [CARD] and amex [CARD]", {"card": 2}),
        ("visa 4012888888881881", "visa [CARD]", {"card": 1}),
        ("server 192.168.0.12:8080", "server [IP]:8080", {"ip": 1}),
        ("v6 2001:db8::8a2e:370:7334 and fe80::1.", "v6 [IP] and [IP].", {"ip": 2}),
        ("mapped ::ffff:192.0.2.128 here", "mapped [IP] here", {"ip": 1}),
        ("me@x.io, 10.0.0.1, 555-123-4567", "[EMAIL], [IP], [PHONE]", {"email": 1, "ip": 1, "phone": 1}),
    ],
)
def test_scrubs(text, scrubbed, kinds):
    out, counts = scrub_pii(text)
    assert out == scrubbed
    assert dict(counts) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "In 2023 I paid $1,250,000 for 3 houses.",
        "Meet on 2023-01-15 at 10:30:45, or 12/25/2023.",
        "Python 3.11.4 and version 1.2.3 are fine; pi is 3.14159.",
        "Order 12345 shipped; ISBN 978-3-16-148410-0.",
        "card 4111 1111 1111 1112 fails Luhn",
        "an id 1234567890123 that fails Luhn",
        "0000 0000 0000 0000",
        "x = a[1::2]; std::vector<int> v; dec::add; ::1",
        "MAC 00:1A:2B:3C:4D:5E and x5551234567 and 555-123-4567x",
        "decorators like @app.route('/') and user@localhost are not emails",
        "No personal data here at all.",
        "",
    ],
)
def test_leaves_alone(text):
    assert scrub_pii(text) == (text, Counter())


@pytest.mark.parametrize(
    "number", ["4111111111111111", "5500000000000004", "378282246310005", "6011111111111117", "79927398713"]
)
def test_luhn_positive(number):
    assert luhn_ok(number)


@pytest.mark.parametrize("number", ["4111111111111112", "1234567812345678", "79927398710", "378282246310006"])
def test_luhn_negative(number):
    assert not luhn_ok(number)


def test_root_key_is_the_first_user_turn_normalized():
    """Every continuation of a dialogue has its root's key; a one-turn prompt keeps its own hash."""
    opening = [{"role": "user", "content": "I think  Gay people should be neutered."}]
    longer = [{"role": "system", "content": "Be kind."},
              {"role": "user", "content": "i think gay people should be neutered."},
              {"role": "assistant", "content": "Why?"}, {"role": "user", "content": "Because."}]
    assert root_key(opening) == root_key(longer) == content_hash(normalize_text(opening))
    assert root_key([{"role": "user", "content": "Another opening."}, *longer[2:]]) != root_key(longer)
