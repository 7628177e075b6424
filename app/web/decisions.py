"""The one decision form, shared by a recommendation page and a session's agenda items.

The outcome is a choice among the steps the reader may take now (a radio group), with one note.
Which steps need a justification is said at the note; a step into a final state (a decision,
withdrawing) asks for a confirmation box to be ticked, checked here on the server, so it works
without script. Without script a radio choice cannot fill the note either, so the form has a
button that comes back with the chosen step's answer template in the note (post/redirect/get).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from .. import queries
from ..workflow import engine
from .common import default_locale, locale


@dataclass(frozen=True)
class Choice:
    trigger: str
    text: str
    requires_note: bool
    final: bool  # into a final state: confirmed before it is taken
    template: str  # the answer template that may start the note ("" when there is none)


def choices(process, workflow, state: str, roles, own_templates: dict[str, str] | None = None) -> list[Choice]:
    """The steps the reader may take from ``state``, in the workflow file's order."""
    result = []
    for transition in engine().allowed(workflow.id, state, roles):
        final = workflow.states[transition.dest].final
        template = queries.answer_template(process, transition.dest, locale(), default_locale(), own_templates) if final else ""
        result.append(
            Choice(
                transition.trigger,
                transition.display(locale(), default_locale()),
                transition.requires_note,
                final,
                template,
            )
        )
    return result


def chosen(options: list[Choice], trigger: str | None) -> Choice | None:
    return next((c for c in options if c.trigger == trigger), None)


def with_template(options: list[Choice], trigger: str | None, note: str | None) -> tuple[str, bool]:
    """The note after "start from the template": the chosen step's template in place of an empty
    note or of another step's untouched template; a note the person wrote is never replaced
    (second value False then)."""
    choice = chosen(options, trigger)
    note = note or ""
    if choice is None:
        return note, False
    if note.strip() and note.strip() not in {c.template.strip() for c in options if c.template}:
        return note, False
    return choice.template, True


def unconfirmed(options: list[Choice], trigger: str | None, confirmed: bool) -> str | None:
    """The error for the confirmation box, when the chosen step is final and it was not ticked."""
    choice = chosen(options, trigger)
    if choice is not None and choice.final and not confirmed:
        return _("“%(step)s” is final. Tick the box to confirm it.", step=choice.text)
    return None


def problems(options: list[Choice], trigger: str | None, note: str | None, confirmed: bool) -> dict[str, str]:
    """What is wrong with the chosen step's form, every field at once (field name -> its error): a
    justification the step needs and a confirmation a final step needs."""
    choice = chosen(options, trigger)
    found = {}
    if choice is not None and choice.requires_note and not (note or "").strip():
        found["note"] = _("This step needs a note that explains it.")
    if problem := unconfirmed(options, trigger, confirmed):
        found["confirm"] = problem
    return found


def note_hint(options: list[Choice]) -> str:
    """What the note field says about itself: for which steps it is required."""
    required = [c.text for c in options if c.requires_note]
    if not required:
        return _("Optional.")
    if len(required) == len(options):
        return _("Required.")
    return _("Required for: %(steps)s.", steps=", ".join(required))


def confirm_hint(options: list[Choice]) -> str | None:
    final = [c.text for c in options if c.final]
    if not final:
        return None
    return _("Needed for: %(steps)s.", steps=", ".join(final))
