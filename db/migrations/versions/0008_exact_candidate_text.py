"""exact candidate identity: a candidate's text_hash covers its text as written, whitespace included.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:10:00.000000

Until now the hash was taken of the text with surrounding whitespace stripped, so two replies that
differed only there (a TRL pair whose chosen and rejected differ in a trailing newline) became one
candidate and the pair vanished. No row changes shape: only the hashes of texts with surrounding
whitespace are recomputed. Two texts equal after stripping could not both be stored before, so the
new hashes cannot collide. The downgrade restores the stripped hash wherever that collides with no
other candidate of the same prompt (a text stored twice under the new rule keeps its exact hash).
"""

from hashlib import blake2b

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_candidates = sa.table(
    "candidates", sa.column("id", sa.Integer), sa.column("prompt_id", sa.Integer),
    sa.column("text", sa.Text), sa.column("text_hash", sa.String),
)


def _hash(text: str) -> str:
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# Every character str.strip() removes: a text starting or ending with one is the only kind that changes.
_SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]


def _rehash(exact: bool) -> None:
    bind = op.get_bind()
    c = _candidates.c
    edges = sa.or_(sa.func.substr(c.text, 1, 1).in_(_SPACES), sa.func.substr(c.text, sa.func.length(c.text), 1).in_(_SPACES))
    rows = bind.execute(sa.select(c.id, c.prompt_id, c.text, c.text_hash).where(edges)).all()
    prompt_ids = sorted({pid for _id, pid, _text, _h in rows})
    taken = set()
    for i in range(0, len(prompt_ids), 500):
        taken.update(bind.execute(sa.select(c.prompt_id, c.text_hash).where(c.prompt_id.in_(prompt_ids[i:i + 500]))).all())
    updates = []
    for cid, pid, text, old in rows:
        new = _hash(text if exact else text.strip())
        if new != old and (pid, new) not in taken:
            taken.add((pid, new))
            updates.append({"cid": cid, "h": new})
    if updates:
        bind.execute(_candidates.update().where(c.id == sa.bindparam("cid")).values(text_hash=sa.bindparam("h")), updates)


def upgrade() -> None:
    _rehash(exact=True)


def downgrade() -> None:
    _rehash(exact=False)
