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
