"""The write transaction: everything or nothing, and a lost race is a conflict."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.errors import Conflict
from app.extensions import db
from app.models import Recommendation
from app.transactions import write_transaction
from tests.conftest import audit_count


def test_a_version_that_moved_during_the_transaction_is_a_conflict(world, rec_in):
    rec = rec_in(world, "draft")
    rec_id, title, version = rec.id, rec.title, rec.version
    with pytest.raises(Conflict):
        with write_transaction() as session:
            loaded = session.get(Recommendation, rec_id)
            session.execute(sa.update(Recommendation).where(Recommendation.id == rec_id)
                            .values(version=Recommendation.version + 1)
                            .execution_options(synchronize_session=False))  # as another writer would
            loaded.title = "Lost update"
    db.session.expire_all()
    assert (db.session.get(Recommendation, rec_id).title, db.session.get(Recommendation, rec_id).version) == (title, version)


def test_an_exception_rolls_back_everything(world, rec_in):
    rec = rec_in(world, "draft")
    rec_id, events = rec.id, audit_count()
    with pytest.raises(ZeroDivisionError):
        with write_transaction() as session:
            session.get(Recommendation, rec_id).title = "Half done"
            1 / 0
    db.session.expire_all()
    assert db.session.get(Recommendation, rec_id).title != "Half done"
    assert audit_count() == events


def test_a_change_between_the_checks_and_the_write_is_a_conflict(world, rec_in, monkeypatch):
    """A transition checks before its write transaction; the UPDATE still refuses what came between."""
    from app.services import recommendations as service
    rec = rec_in(world, "in_moderation")
    rec_id, version, events = rec.id, rec.version, audit_count()
    checked = service.clean_text

    def another_writer_slips_in(*args, **kwargs):
        with db.engine.begin() as other:
            other.execute(sa.update(Recommendation).where(Recommendation.id == rec_id).values(version=version + 1))
        return checked(*args, **kwargs)
    monkeypatch.setattr(service, "clean_text", another_writer_slips_in)
    with pytest.raises(Conflict):
        service.fire(rec_id, "forward", world.moderator, None, version)
    db.session.expire_all()
    assert db.session.get(Recommendation, rec_id).state == "in_moderation"
    assert audit_count() == events


def test_sqlite_writers_queue_on_a_lock_file_beside_the_database(app, world, monkeypatch):
    import fcntl
    import os
    import threading

    from app import services
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the lock file is SQLite's")
    from app import transactions
    holder = os.open(db.engine.url.database + "-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as a writer in another process would
    queued, done = threading.Event(), threading.Event()
    real_flock = fcntl.flock

    def flock(descriptor, operation):
        queued.set()  # the writer asks for the lock now, and blocks while we hold it
        return real_flock(descriptor, operation)
    monkeypatch.setattr(transactions.fcntl, "flock", flock)

    def write():
        with app.app_context():
            services.create_process("queued", "Queued", "citizen-recommendation")
            done.set()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert queued.wait(60)  # (a bound against hanging, not a measure of time)
        assert not done.is_set()  # it asked for the lock we hold, so it has not written
        assert db.session.scalar(sa.text("SELECT count(*) FROM processes WHERE slug = 'queued'")) == 0
    finally:
        os.close(holder)
    writer.join(60)
    assert done.is_set()  # it wrote once the lock was free
    db.session.rollback()  # a new read transaction, which sees it
    assert db.session.scalar(sa.text("SELECT count(*) FROM processes WHERE slug = 'queued'")) == 1
