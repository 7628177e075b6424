"""``ratschlag sessions list|minutes`` (README, "Command line"): what an operator needs of the
steering round's sessions without a browser: which sessions there are, and their minutes as
text or as the PDF the public downloads."""
from __future__ import annotations

import io

from pypdf import PdfReader

from app import audit, services
from app.extensions import db
from app.models import Recommendation
from tests.cli.test_cli import ok, refused
from tests.conftest import audit_count


def _version(rec_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Recommendation, rec_id).version


def test_list_and_minutes_as_text_and_pdf(runner, world, rec_in, tmp_path):
    rec = rec_in(world, "steering_review", title="Früh informieren")
    meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30",
                                      place="Rathaus, Raum 101", participants="Anna Admin, Ben Bürger")
    services.add_ready(meeting.id, world.administrator)
    services.decide(meeting.id, world.administrator, rec.id, "reject", "Zu teuer für 2026.", _version(rec.id))
    other = services.create_session(world.process.id, world.administrator, "4. Sitzung", "2026-05-02T18:00")
    listed = ok(runner.invoke(args=["sessions", "list"])).stdout.splitlines()
    assert listed[0].split("\t") == [str(other.id), "2026-05-02 18:00", "open", world.process.slug, "4. Sitzung", "0", "-"]
    assert listed[1].split("\t")[:6] == [str(meeting.id), "2026-03-14 18:30", "open", world.process.slug, "3. Sitzung", "1"]
    assert ok(runner.invoke(args=["sessions", "list", "--process", world.process.slug])).stdout.count("\n") == 2

    refused(runner.invoke(args=["sessions", "minutes", str(meeting.id), "--pdf", str(tmp_path / "m.pdf")]),
            f"session {meeting.id} is not closed: its minutes are not final yet")
    assert not (tmp_path / "m.pdf").exists()
    events = audit_count()
    before = audit.head()
    services.close_session(meeting.id, world.administrator, notes="Nächste Sitzung im Mai.")

    text = ok(runner.invoke(args=["sessions", "minutes", str(meeting.id)])).stdout
    for expected in ("3. Sitzung", "Rathaus, Raum 101", "Anna Admin, Ben Bürger", "Früh informieren", "rejected",
                     "Zu teuer für 2026.", "Nächste Sitzung im Mai.", f"{before[0]}:{before[1]}"):
        assert expected in text, expected

    target = tmp_path / "minutes.pdf"
    ok(runner.invoke(args=["sessions", "minutes", str(meeting.id), "--pdf", str(target)]))
    reader = PdfReader(io.BytesIO(target.read_bytes()))
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    pdf_text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "Früh informieren" in pdf_text and "Zu teuer für 2026." in pdf_text
    assert f"{before[0]}:{before[1]}" in pdf_text.replace(" ", "")
    assert audit_count() == events + 1  # reading and writing minutes changes nothing; only the closing counted


def test_mistakes_are_one_line_errors(runner, world):
    refused(runner.invoke(args=["sessions", "minutes", "999"]), "there is no session 999")
    refused(runner.invoke(args=["sessions", "list", "--process", "nirgends"]), "there is no process 'nirgends'")
    assert runner.invoke(args=["sessions", "minutes", "x"]).exit_code == 2
