"""PostgreSQL: append an audit event in one call to the database instead of three.

Every audited change appended its event with three statements, each a round trip to the
server: take the chain's advisory lock, read the newest event, insert the next one; the
lock was held across two of them. ``audit_append`` does the same three steps inside the
server. With 8 concurrent clients on two cores this took transition throughput from 0.45
to 0.51 of the framework floor's, and a single transition from 1.9 to 1.65 times the
floor's latency (measured in turns, 2026-11-22; bench/RESULTS.md has the full run).

It is VOLATILE, so in READ COMMITTED each statement in it sees what committed before it
began: the newest event is read after the lock is held, exactly as before. The hash is
PostgreSQL's own SHA-256 of ``prev_hash || before || seq || after``, where ``before`` and
``after`` are the canonical JSON around the sequence number, written by app/audit.py;
``ratschlag audit verify`` recomputes every hash in Python, as always.

SQLite needs nothing: it runs inside the application process, so there is no round trip.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The key ("Ratschl") the application itself took before this revision. Kept, so that during a
# rolling upgrade the workers of both releases queue on the same lock.
CHAIN_LOCK_KEY = 0x5261747363686C


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE FUNCTION audit_append(p_at varchar, p_actor_id integer, p_action varchar, p_subject_type varchar,
                                     p_subject_id integer, p_data text, p_before_seq text, p_after_seq text,
                                     OUT event_seq integer, OUT event_prev_hash varchar, OUT event_hash varchar)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
            SELECT e.seq + 1, e.hash INTO event_seq, event_prev_hash
                FROM audit_events e ORDER BY e.seq DESC LIMIT 1;
            IF NOT FOUND THEN
                event_seq := 1;
                event_prev_hash := repeat('0', 64);
            END IF;
            event_hash := encode(sha256(convert_to(
                event_prev_hash || p_before_seq || event_seq::text || p_after_seq, 'UTF8')), 'hex');
            INSERT INTO audit_events (seq, at, actor_id, action, subject_type, subject_id, data, prev_hash, hash)
            VALUES (event_seq, p_at, p_actor_id, p_action, p_subject_type, p_subject_id, p_data,
                    event_prev_hash, event_hash);
        END
        $$
    """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append(varchar, integer, varchar, varchar, integer, text, text, text)")
