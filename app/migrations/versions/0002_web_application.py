"""Web application: session tokens, comment history and reports, a due-date index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 11:25:13.611646

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('comment_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_reports_comment_id_comments')),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_comment_reports_reporter_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_reports'))
    )
    with op.batch_alter_table('comment_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_reports_comment_id'), ['comment_id'], unique=False)

    op.create_table('comment_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_revisions_comment_id_comments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_revisions'))
    )
    with op.batch_alter_table('comment_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_revisions_comment_id'), ['comment_id'], unique=False)

    # Plain ADD COLUMN (no batch rebuild): SQLite supports it, and rebuilding users
    # would risk its lower(email) expression index.
    op.add_column('comments', sa.Column('edited_at', sa.DateTime(), nullable=True))
    op.create_index(op.f('ix_recommendations_due_at'), 'recommendations', ['due_at'], unique=False)
    op.add_column('users', sa.Column('session_token', sa.String(length=64), nullable=False, server_default=''))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.text("SELECT id FROM users")).all():
        connection.execute(sa.text("UPDATE users SET session_token = :token WHERE id = :id"),
                           {"token": secrets.token_hex(16), "id": user_id})


def downgrade():
    op.drop_column('users', 'session_token')
    op.drop_index(op.f('ix_recommendations_due_at'), table_name='recommendations')
    op.drop_column('comments', 'edited_at')

    with op.batch_alter_table('comment_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_revisions_comment_id'))

    op.drop_table('comment_revisions')
    with op.batch_alter_table('comment_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_reports_comment_id'))

    op.drop_table('comment_reports')
