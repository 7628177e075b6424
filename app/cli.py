"""The ``ratschlag`` command line (README.md, "Command line").

Commands are thin: parse, call a service, print. A user's mistake (an unknown
e-mail, a duplicate user, an invalid workflow file) ends with a one-line error
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask import current_app, url_for
from flask.cli import FlaskGroup, with_appcontext
from flask_babel import force_locale, gettext as _, ngettext
from sqlalchemy import func, select

from . import audit as trail, audit_deep, backup, config, create_app, demo as demo_data, documents, queries, services
from .disclosure import Reader
from .errors import ServiceError
from .extensions import db
from .models import AgendaItem, SteeringSession
from .services import categories
from .workflow import graph
from .workflow.definition import WORKFLOW_ID, InvalidWorkflows, load_directory, load_file


def terminal_language(languages: list[str]) -> str:
    """The terminal's language (LC_ALL, LC_MESSAGES, LANG) if the interface has it, else English."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            language = value.split("_")[0].split(".")[0].lower()
            return language if language in languages else "en"
    return "en"


def cli_locale() -> str:
    return terminal_language(current_app.config["LANGUAGES"])


def user_errors(command):
    """Speak the terminal's language; turn a refused action into a one-line error and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        with force_locale(cli_locale()):
            try:
                return command(*args, **kwargs)
            except ServiceError as error:
                raise click.ClickException(str(error.message)) from None

    return wrapper


def _user(email: str):
    user = services.find_user(email)
    if user is None or user.erased_at is not None:  # an erased account has no address to find it by
        raise click.ClickException(_("there is no user with the e-mail %(email)s", email=email))
    return user


# -- users ---------------------------------------------------------------------


@click.group(help="Create users and their API tokens; erase a person.")
def users():
    pass


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The name others see.")
@click.option("--superuser", is_flag=True, help="May administer the installation (grants no process role).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
@user_errors
def users_create(email, name, superuser, password_stdin):
    """Create a user; without --password-stdin a strong password is generated and printed."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException(_("no password on standard input"))
    user, password_used = services.create_user(email, name, password, superuser)
    click.echo(
        _("created superuser %(email)s (id %(id)s)", email=user.email, id=user.id)
        if superuser
        else _("created user %(email)s (id %(id)s)", email=user.email, id=user.id)
    )
    if not password_stdin:
        click.echo(f"password: {password_used}")


@users.command("token")
@click.argument("email")
@click.option("--label", default="", help="What the token is for.")
@with_appcontext
@user_errors
def users_token(email, label):
    """Create an API token; it is printed alone on the last line and only its hash is kept."""
    user = _user(email)
    token = services.create_token(user, label)
    click.echo(
        _("API token for %(email)s (%(label)s); it is shown only now:", email=user.email, label=label)
        if label
        else _("API token for %(email)s; it is shown only now:", email=user.email)
    )
    click.echo(token)


@users.command("revoke-token")
@click.argument("email")
@click.option("--label", help="Revoke the tokens with this label.")
@click.option("--all", "revoke_all", is_flag=True, help="Revoke all of the user's tokens.")
@with_appcontext
@user_errors
def users_revoke_token(email, label, revoke_all):
    """Revoke a user's API tokens (by label, or all); they stop working at once."""
    if (label is None) == (not revoke_all):
        raise click.ClickException(_("say which tokens: --label TEXT or --all"))
    user = _user(email)
    count = services.revoke_tokens(user, None if revoke_all else label)
    if count == 0:
        raise click.ClickException(
            _("%(email)s has no active token labelled '%(label)s'", email=user.email, label=label)
            if label
            else _("%(email)s has no active token", email=user.email)
        )
    click.echo(ngettext("revoked %(num)d token of %(email)s", "revoked %(num)d tokens of %(email)s", count, email=user.email))


@users.command("invite")
@click.argument("email")
@click.option("--name", required=True, help="The name others see.")
@with_appcontext
@user_errors
def users_invite(email, name):
    """Create an account and e-mail a single-use link to set its password (sent by the worker)."""
    user = services.invite_user(email, name)
    click.echo(_("invited %(email)s (id %(id)s); the worker e-mails the link", email=user.email, id=user.id))


@users.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Confirm: the erasure cannot be undone.")
@with_appcontext
@user_errors
def users_erase(email, yes):
    """Erase a person: anonymize the account and blank the audit payloads that hold their personal data."""
    user = _user(email)
    if not yes:
        raise click.ClickException(
            _(
                "erasing %(name)s <%(email)s> cannot be undone; nothing was changed. Add --yes to erase.",
                name=user.name,
                email=user.email,
            )
        )
    done = services.erase_user(user.id)
    click.echo(
        _(
            "erased user %(id)s, now %(pseudonym)s: %(count)s audit payloads erased",
            id=done.user_id,
            pseudonym=done.pseudonym,
            count=len(done.erased),
        )
    )
    if done.v1_kept:
        click.echo(
            ngettext(
                "%(num)d event written before audit format v2 holds their data and cannot be erased "
                "without breaking the chain: it was left",
                "%(num)d events written before audit format v2 hold their data and cannot be erased "
                "without breaking the chain: they were left",
                done.v1_kept,
            )
        )
    for path in done.mail_files_left:
        click.echo(
            _("The mail file %(path)s could not be checked or changed: remove it by hand if it names the person.", path=path),
            err=True,
        )


# -- processes -----------------------------------------------------------------


@click.group(help="Create participation processes and grant roles in them.")
def processes():
    pass


@processes.command("create")
@click.argument("slug")
@click.option("--title", required=True)
@click.option("--workflow", "workflow_id", required=True, help="A workflow id (a file name in the workflows folder).")
@with_appcontext
@user_errors
def processes_create(slug, title, workflow_id):
    """Create a participation process that uses a workflow."""
    process = services.create_process(slug, title, workflow_id)
    click.echo(_("created process %(slug)s on workflow %(workflow)s", slug=process.slug, workflow=process.workflow_id))


@processes.command("grant")
@click.argument("slug")
@click.argument("email")
@click.argument("role")
@with_appcontext
@user_errors
def processes_grant(slug, email, role):
    """Give a user a ROLE (member, moderator or administrator) in a process."""
    process = services.find_process(slug)
    user = _user(email)
    if services.grant_role(process, user, role):
        click.echo(_("%(email)s is now %(role)s in %(slug)s", email=user.email, role=role, slug=process.slug))
    else:
        click.echo(_("%(email)s was already %(role)s in %(slug)s", email=user.email, role=role, slug=process.slug))


# -- departments ---------------------------------------------------------------


@click.group(help="Create departments (Fachbereiche) and add their members.")
def departments():
    pass


@departments.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The department's name, as people read it.")
@with_appcontext
@user_errors
def departments_create(slug, name):
    """Create a department that statements can be asked of."""
    department = services.create_department(slug, name)
    click.echo(_("created department %(slug)s (%(name)s)", slug=department.slug, name=department.name))


@departments.command("add")
@click.argument("slug")
@click.argument("email")
@with_appcontext
@user_errors
def departments_add(slug, email):
    """Make a user a member of a department."""
    department = services.find_department(slug)
    user = _user(email)
    if services.add_department_member(department, user):
        click.echo(_("%(email)s is now a member of %(slug)s", email=user.email, slug=department.slug))
    else:
        click.echo(_("%(email)s was already a member of %(slug)s", email=user.email, slug=department.slug))


@departments.command("list")
@with_appcontext
@user_errors
def departments_list():
    """List the departments: slug, name and members, one department a line."""
    for department in queries.departments():
        members = ", ".join(m.user.email for m in department.members)
        click.echo(f"{department.slug}\t{department.name}\t{members}")


@departments.command("deactivate")
@click.argument("slug")
@with_appcontext
@user_errors
def departments_deactivate(slug):
    """Ask a department nothing new: categories routed to it fall back to the process's moderators."""
    department = services.find_department(slug)
    if categories.set_department_active(department, False, None):
        click.echo(_("deactivated department %(slug)s", slug=department.slug))
    else:
        click.echo(_("department %(slug)s was deactivated already", slug=department.slug))


@departments.command("activate")
@click.argument("slug")
@with_appcontext
@user_errors
def departments_activate(slug):
    """Activate a deactivated department again."""
    department = services.find_department(slug)
    if categories.set_department_active(department, True, None):
        click.echo(_("activated department %(slug)s", slug=department.slug))
    else:
        click.echo(_("department %(slug)s was active already", slug=department.slug))


# -- categories ----------------------------------------------------------------


@click.group(help="Define a process's categories, each routed to a department.")
def categories_group():
    pass


@categories_group.command("create")
@click.argument("process_slug")
@click.argument("slug")
@click.option("--name", required=True, help="The category's name, as people read it.")
@click.option("--department", default=None, help="The department it routes to (none: the process's moderators).")
@with_appcontext
@user_errors
def categories_create(process_slug, slug, name, department):
    """Create a category of a process, routed to a department."""
    category = categories.create_category(services.find_process(process_slug), slug, name, department, None)
    click.echo(_("created category %(slug)s (%(name)s)", slug=category.slug, name=category.name))


@categories_group.command("route")
@click.argument("process_slug")
@click.argument("slug")
@click.option("--department", default="", help="The department it routes to; empty: the process's moderators.")
@with_appcontext
@user_errors
def categories_route(process_slug, slug, department):
    """Route a category to another department (or to the process's moderators)."""
    process = services.find_process(process_slug)
    category = categories.update_category(categories.find_category(process.id, slug), None, department=department)
    click.echo(_("category %(slug)s routes to %(target)s", slug=category.slug,
                 target=category.department.slug if category.department else _("the moderators")))  # fmt: skip


@categories_group.command("list")
@click.argument("process_slug")
@with_appcontext
@user_errors
def categories_list(process_slug):
    """List a process's categories: slug, name and where each routes, one a line."""
    for category in categories.categories(services.find_process(process_slug).id):
        routed = category.routed_department
        click.echo(f"{category.slug}\t{category.name}\t{routed.slug if routed else 'moderators'}")


categories_group.name = "categories"


# -- sessions of the steering round -----------------------------------------------


@click.group(help="List the steering round's sessions and write their minutes (also as PDF).")
def sessions():
    pass


def _meeting(session_id: int) -> SteeringSession:
    meeting = db.session.get(SteeringSession, session_id)
    if meeting is None:
        raise click.ClickException(_("there is no session %(id)s", id=session_id))
    return meeting


@sessions.command("list")
@click.option("--process", "slug", help="Only the sessions of this process (its slug).")
@with_appcontext
@user_errors
def sessions_list(slug):
    """List the sessions, the latest first: id, date (local time, as entered), status, process, title, agenda items
    and, once closed, the chain head its minutes record; one session a line, tab-separated."""
    statement = select(SteeringSession).order_by(SteeringSession.held_at.desc(), SteeringSession.id.desc())
    if slug:
        statement = statement.where(SteeringSession.process_id == services.find_process(slug).id)
    items = dict(db.session.execute(select(AgendaItem.session_id, func.count()).group_by(AgendaItem.session_id)).all())
    for meeting in db.session.scalars(statement):
        click.echo(
            f"{meeting.id}\t{meeting.held_at:%Y-%m-%d %H:%M}\t{meeting.status}\t{meeting.process.slug}\t"
            f"{meeting.title}\t{items.get(meeting.id, 0)}\t{meeting.chain_head or '-'}"
        )


@sessions.command("minutes")
@click.argument("session_id", type=int)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the closed session's minutes as a tagged PDF to this file (as the public reads them).",
)
@with_appcontext
@user_errors
def sessions_minutes(session_id, pdf_path):
    """Print a session's minutes as text (agenda, decisions with their justifications, attendance,
    notes, the chain head once closed), or with --pdf write the closed minutes' PDF."""
    meeting = _meeting(session_id)
    if pdf_path is not None:
        if not meeting.closed:
            raise click.ClickException(_("session %(id)s is not closed: its minutes are not final yet", id=meeting.id))
        from .web.sessions import render_session  # the PDF is the session's own page, rendered for print

        base = (current_app.config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/") + "/"
        with current_app.test_request_context("/", base_url=base, headers={"Accept-Language": cli_locale()}):
            html = render_session(meeting, for_document=True)[0]
            try:
                pdf = documents.pdf_from_html(html, base, url_for("static", filename="", _external=True))
            except documents.PdfUnavailable as error:
                raise click.ClickException(str(error)) from None
        pdf_path.write_bytes(pdf)
        click.echo(f"{pdf_path}\t{len(pdf)} bytes")
        return
    click.echo(f"{meeting.title}\n{meeting.held_at:%Y-%m-%d %H:%M}\t{meeting.place}\t{meeting.status}")
    if meeting.participants:
        click.echo(meeting.participants)
    for item in services.minutes_items(meeting, queries.session_items(meeting.id)):
        decided = item.result_state or "-"
        click.echo(f"{item.position}\t{meeting.process.slug}#{item.number}\t{item.title}\t{decided}")
        if item.note:
            click.echo("\t" + item.note.replace("\n", "\n\t"))
    if meeting.notes:
        click.echo(meeting.notes)
    if meeting.chain_head:
        click.echo(f"{meeting.chain_head}")


# -- workflows -----------------------------------------------------------------


def _setting(key: str):
    """A setting read without starting the application (which refuses to start on invalid workflows)."""
    return config.load(config.instance_path())[key]


def _workflows_dir() -> Path:
    return Path(_setting("WORKFLOWS_DIR"))


@click.group(help="Check workflow files and draw their diagrams.")
def workflows():
    pass


@workflows.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def workflows_check(paths):
    """Validate workflow files (default: every file in the workflows folder)."""
    problems, checked = [], []
    for path in paths or [_workflows_dir()]:
        if path.is_dir():
            found, folder_problems = load_directory(path)
            checked += list(found)
            problems += folder_problems
        else:
            workflow, file_problems = load_file(path)
            checked += [workflow.id] if workflow else []
            problems += file_problems
    for problem in problems:
        click.echo(str(problem))
    if problems:
        sys.exit(1)
    click.echo(f"ok: {len(checked)} valid workflow file{'s' if len(checked) != 1 else ''} ({', '.join(checked)})")


@workflows.command("graph")
@click.argument("workflow_id")
@click.option("--format", "fmt", type=click.Choice(["svg", "dot", "mermaid"]), default="svg", show_default=True)
@click.option("--lang", help="Language of the labels (default: the terminal's, as for every command).")
def workflows_graph(workflow_id, fmt, lang):
    """Print a workflow's diagram."""
    path = _workflows_dir() / f"{workflow_id}.yaml"
    # An id, never a path: '../../x' must not read a YAML file outside the workflows folder.
    if not WORKFLOW_ID.fullmatch(workflow_id) or not path.is_file():
        raise click.ClickException(f"there is no workflow '{workflow_id}' ({path} does not exist)")
    workflow, problems = load_file(path)
    if workflow is None:
        raise click.ClickException(f"{path} is invalid; run 'ratschlag workflows check' to see why")
    click.echo(graph.render(workflow, fmt, lang or terminal_language(_setting("LANGUAGES"))))


# -- audit ---------------------------------------------------------------------


@click.group(help="Verify and export the audit trail.")
def audit():
    pass


def published_head(value: str | None) -> tuple[int, str] | None:
    """``--expect-head``'s ``SEQ:HASH`` as ``(seq, hash)``: surrounding blanks are dropped and the hash
    is taken in lower case (as a head copied from printed minutes or a newspaper may be written); anything
    else is refused with what is wrong with it (exit status 2, nothing is checked)."""
    if value is None:
        return None
    seq, sep, digest = value.strip().partition(":")
    seq, digest = seq.strip(), digest.strip().lower()
    if not sep or not seq:
        raise click.BadParameter(_("write it as SEQ:HASH, as 'ratschlag audit head' prints it"), param_hint="'--expect-head'")
    if not (seq.isascii() and seq.isdigit()):
        raise click.BadParameter(
            _("SEQ, before the colon, must be the event's number (digits only); %(seq)s is not", seq=repr(seq)),
            param_hint="'--expect-head'",
        )
    # A number no event has is malformed input too, not a chain that was rewritten (event 0) or truncated
    # (a number beyond any trail, and beyond the 64-bit integers the databases store).
    if int(seq) == 0:
        raise click.BadParameter(
            _("SEQ, before the colon, must be 1 or more: events are numbered from 1"), param_hint="'--expect-head'"
        )
    if len(seq.lstrip("0")) > 18:
        raise click.BadParameter(
            _("SEQ, before the colon, has more than 18 digits: no trail holds that many events"),
            param_hint="'--expect-head'",
        )
    if len(digest) != 64:
        raise click.BadParameter(
            _("the hash after the colon must be 64 hexadecimal digits; this one has %(count)d characters", count=len(digest)),
            param_hint="'--expect-head'",
        )
    if wrong := next((c for c in digest if c not in "0123456789abcdef"), None):
        raise click.BadParameter(
            _("the hash after the colon must be 64 hexadecimal digits (0-9, a-f); %(char)s is not one", char=repr(wrong)),
            param_hint="'--expect-head'",
        )
    return int(seq), digest


@audit.command("head")
@with_appcontext
def audit_head():
    """Print the chain's head as SEQ:HASH, to publish outside the database."""
    seq, digest = trail.head()
    click.echo(f"{seq}:{digest}")


@contextlib.contextmanager
def progress_bar(label: str, total: int) -> Iterator[trail.Progress | None]:
    """A progress bar on standard error while long work runs, only when that is a terminal: piped or
    redirected output (and what scripts read from standard output) stays exactly as it was."""
    if total <= 0 or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


@audit.command("verify")
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="A head published earlier: the chain must still hold it (the hash in either case).",
)
@click.option(
    "--deep", is_flag=True, help="Also replay the events and compare them with the tables; names the first row no event explains."
)
@with_appcontext
@user_errors  # the progress bar speaks the terminal's language, as every command does
def audit_verify(expect_head, deep):
    """Recompute the whole hash chain and every data digest; names the first bad event."""
    expect_head = published_head(expect_head)  # here, not as a callback, so that its errors speak the terminal's language
    with progress_bar(_("Verifying the audit chain"), trail.head()[0]) as progress:
        result = trail.verify(expect_head, progress)
    if not result.ok:
        click.echo(str(result), err=True)
        sys.exit(1)
    click.echo(str(result))
    if deep:
        tables = audit_deep.check()
        if tables.problem:
            click.echo(str(tables), err=True)
            sys.exit(1)
        click.echo(str(tables))


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--public",
    is_flag=True,
    help="As an anonymous visitor may see it: data and salt null where they may not read them; still verifiable.",
)
@with_appcontext
@user_errors  # the progress bar speaks the terminal's language, as every command does
def audit_export(fmt, public):
    """Write every audit event, oldest first, to standard output."""
    with progress_bar(_("Exporting audit events"), trail.head()[0]) as progress:
        trail.export(sys.stdout, fmt, Reader(None) if public else None, progress)


# -- counts --------------------------------------------------------------------


@click.group(help="Check and rebuild the per-state recommendation counts that lists read.")
def counts():
    pass


@counts.command("check")
@with_appcontext
def counts_check():
    """Compare the stored counts with the rows; exit 1 and name every difference."""
    found = services.counts.differences()
    for difference in found:
        click.echo(str(difference))
    if found:
        click.echo(
            f"{len(found)} count{'s' if len(found) != 1 else ''} differ; 'ratschlag counts rebuild' counts again from the rows",
            err=True,
        )
        sys.exit(1)
    click.echo("ok: every count matches its rows")


@counts.command("rebuild")
@with_appcontext
def counts_rebuild():
    """Count again from the rows (writers of recommendations wait meanwhile); names what it repaired."""
    repaired = services.counts.rebuild()
    for difference in repaired:
        click.echo(f"repaired: {difference}")
    click.echo(f"ok: {len(repaired)} count{'s' if len(repaired) != 1 else ''} repaired")


# -- backup --------------------------------------------------------------------


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
@user_errors
def backup_command(path):
    """Write a consistent copy of the SQLite database to PATH, safe while the application runs."""
    with progress_bar(_("Checking the backup's audit chain"), trail.head()[0]) as progress:
        result = backup.backup(path, progress)
    click.echo(
        _(
            "backup written to %(path)s: %(count)s audit events, head %(head)s",
            path=path,
            count=result.count,
            head=f"{result.head_seq}:{result.head_hash}",
        )
    )


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask; replace the current data.")
@with_appcontext
@user_errors
def restore_command(path, yes):
    """Replace the SQLite database's content with a backup. Stop the application first."""
    with progress_bar(_("Checking the backup's audit chain"), backup.events_in(path)) as progress:
        checked = backup.check_file(path, progress)
    if not yes:
        click.confirm(
            _("Replace all current data with %(path)s (%(count)s audit events)?", path=path, count=checked.count), abort=True
        )
    with progress_bar(_("Restoring and checking again"), 2 * checked.count) as progress:
        result = backup.restore(path, progress)
    click.echo(_("restored from %(path)s; %(result)s", path=path, result=result))


# -- worker --------------------------------------------------------------------


@click.command("worker")
@click.option("--once", is_flag=True, help="Send everything due now, run the due reminders and digests, and exit.")
@with_appcontext
@user_errors
def worker(once):
    """Send the queued e-mails, reminders and digests (runs until stopped, unless --once)."""
    from .notify import worker as mail_worker

    try:
        if once:
            counts = mail_worker.run_once()
            click.echo(" ".join(f"{key}={value}" for key, value in counts.items()))
        else:
            mail_worker.run_forever(log=lambda line: click.echo(line, err=True))
    except (RuntimeError, ValueError) as error:
        raise click.ClickException(str(error)) from None


# -- demo ----------------------------------------------------------------------


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the database holds users already.")
@with_appcontext
@user_errors
def demo(if_empty):
    """Load a demonstration process with users of every role; print their logins."""
    demo_data.load(if_empty=if_empty)


COMMANDS = (
    users,
    processes,
    departments,
    categories_group,
    sessions,
    workflows,
    audit,
    counts,
    backup_command,
    restore_command,
    worker,
    demo,
)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)


class RatschlagGroup(FlaskGroup):
    """``flask`` bound to ``app.create_app``; an invalid workflow file is a one-line error."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InvalidWorkflows as error:
            raise click.ClickException(str(error)) from None


cli = RatschlagGroup(create_app=create_app, help="Ratschlag: recommendations from draft to decision.")
register(cli)


def main() -> None:
    cli.main(prog_name="ratschlag")
