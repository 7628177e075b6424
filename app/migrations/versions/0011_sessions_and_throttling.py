"""Server-side sessions, sign-in throttling in the database, and e-mail addresses compared
by their Unicode case-folded form.

- ``sign_ins``: one row per sign-in; the session and remember-me cookies name it, and
  signing out deletes it, so a copied cookie stops working (docs/security.md).
- ``throttles``: failed sign-ins and password checks per address, per account and address, and
  per account, shared by every worker and server without Redis.
- ``users.email_key``: the address case-folded between Unicode decompositions (``Ärger@x.de`` and
  ``ärger@X.DE`` are one account on SQLite too, whose ``lower()`` knows ASCII only), unique; it
  replaces the ``lower(email)`` index. Existing addresses are stripped and composed (NFC). If two
  existing accounts turn out to be one address, the upgrade stops before changing anything and
  names them: merge or rename one, then upgrade again.

Plain ADD COLUMN (no batch rebuild of ``users``, which every other table refers to).

Revision ID: 0011
Revises: 0008
"""
import unicodedata

import click
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def email_form(email: str) -> str:
    # Frozen copies of app.models.email_form and email_key: a migration must not change with the code.
    return unicodedata.normalize("NFC", email.strip())


def email_key(email: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", email.strip()).casefold())


class CollidingAccounts(click.ClickException):
    """A one-line error for ``ratschlag db upgrade`` (click prints it without a traceback)."""


def normalize_existing(connection) -> list[tuple[int, str, str]]:
    """The (id, email, key) of every user; refuses when two accounts share a key."""
    rows = connection.execute(sa.text("SELECT id, email FROM users ORDER BY id")).all()
    seen: dict[str, tuple[int, str]] = {}
    clashes = []
    for user_id, email in rows:
        key = email_key(email)
        if key in seen:
            clashes.append(f"{seen[key][0]} ({seen[key][1]}) and {user_id} ({email})")
        else:
            seen[key] = (user_id, email)
    if clashes:
        raise CollidingAccounts(
            "revision 0011 stopped, nothing changed: these accounts have the same e-mail address once case "
            "and Unicode form are ignored: users " + "; users ".join(clashes)
            + ". Give one of each pair another address (or deactivate and rename it), then upgrade again.")
    return [(user_id, email_form(email), email_key(email)) for user_id, email in rows]


def upgrade():
    connection = op.get_bind()
    normalized = normalize_existing(connection)  # before any change: a refusal leaves the schema as it was
    op.add_column("users", sa.Column("email_key", sa.String(length=254), nullable=False, server_default=""))
    for user_id, email, key in normalized:
        connection.execute(sa.text("UPDATE users SET email = :email, email_key = :key WHERE id = :id"),
                           {"email": email, "key": key, "id": user_id})
    # IF EXISTS: a batch rebuild of users by another revision on SQLite drops expression indexes.
    op.execute("DROP INDEX IF EXISTS uq_users_email_lower")
    op.create_index("uq_users_email_key", "users", ["email_key"], unique=True)

    op.create_table(
        "sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sign_ins_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_ins")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_sign_ins_secret_hash")),
    )
    op.create_index("ix_sign_ins_user_id", "sign_ins", ["user_id"])
    op.create_index("ix_sign_ins_expires_at", "sign_ins", ["expires_at"])

    op.create_table(
        "throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttles")),
    )
    op.create_index("ix_throttles_updated_at", "throttles", ["updated_at"])


def downgrade():
    op.drop_index("ix_throttles_updated_at", table_name="throttles")
    op.drop_table("throttles")
    op.drop_index("ix_sign_ins_expires_at", table_name="sign_ins")
    op.drop_index("ix_sign_ins_user_id", table_name="sign_ins")
    op.drop_table("sign_ins")
    op.drop_index("uq_users_email_key", table_name="users")
    op.drop_column("users", "email_key")
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
