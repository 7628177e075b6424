"""Forms: every POST of the web interface goes through one of these, so every one carries CSRF."""

from flask_babel import format_number, gettext, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..services.validation import BODY_MAX, COMMENT_MAX, length


def options(pairs) -> list[SelectChoice]:
    """A select field's choices from (value, label) pairs (WTForms deprecates plain tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


class _at_most:
    """A Markdown text's limit (app/services/validation.py says why it is what it is), counted as the
    page's counter and the service count: a line break is one character."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, form, field) -> None:
        if field.data and length(field.data) > self.limit:
            raise ValidationError(gettext("At most %(max)s characters. Please shorten the text.", max=format_number(self.limit)))


class _Length(Length):
    """A length limit the server checks and the browser does not: with ``maxlength`` a browser cuts
    pasted text silently; here the field keeps it and the error says what is too long."""

    def __init__(self, min: int = -1, max: int = -1, message: str | None = None):
        super().__init__(min, max, message)
        self.field_flags.pop("maxlength", None)


def _counted(limit: int, **attributes) -> dict:
    """A field that shows how many characters it holds (the field macro adds the counter, static/counter.js
    fills it). No maxlength: a browser would cut pasted text silently; the server says what is too long."""
    return {"maxlength": False, "data-counter-max": limit, **attributes}


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Remember me"))


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, message=_l("At least 10 characters."))])


class ButtonForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class RecommendationForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(),
            _Length(max=200, message=_l("The title may have at most %(max)d characters. Please shorten it.")),
        ],
        render_kw={"data-counter-max": 200},
    )
    body = TextAreaField(
        _l("Text (Markdown)"), validators=[DataRequired(), _at_most(BODY_MAX)], render_kw=_counted(BODY_MAX, rows=18)
    )
    # The process's categories (set per request; none: the field is not shown); the service checks the choice.
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    version = HiddenField()
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save"))


class TransitionForm(FlaskForm):
    """The one decision form of a recommendation page: the step as a choice, one note, and a
    confirmation that the page asks for where the chosen step is final (app/web/views.py)."""

    trigger = StringField(validators=[DataRequired(message=_l("Choose a step."))])
    version = IntegerField(validators=[DataRequired()])
    seen = IntegerField(validators=[Optional()])  # the newest event the page showed
    note = TextAreaField(_l("Note or justification"), validators=[_Length(max=10_000)])
    confirm = BooleanField(_l("I confirm this step. It is final and cannot be undone."))
    template = SubmitField(_l("Start from the answer template of the chosen step"))


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), validators=[DataRequired(), _at_most(COMMENT_MAX)], render_kw=_counted(COMMENT_MAX))
    parent_id = HiddenField()
    visibility = HiddenField(default="public")


class EditCommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), validators=[DataRequired(), _at_most(COMMENT_MAX)], render_kw=_counted(COMMENT_MAX))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), _Length(max=10_000)])


class CoauthorForm(FlaskForm):
    # The service decides who may be added; the choices only help the person choosing.
    user_id = SelectField(_l("Co-author"), coerce=int, validate_choice=False)


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])  # the service checks the address
    name = StringField(_l("Name"), validators=[DataRequired(), _Length(max=200)])
    superuser = BooleanField(_l("Superuser (administers this installation)"))


class ProcessForm(FlaskForm):
    slug = StringField(
        _l("Short name in addresses"),
        validators=[DataRequired(), Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lower-case letters, digits and '-'."))],
    )
    title = StringField(_l("Title"), validators=[DataRequired(), _Length(max=200)])
    workflow = SelectField(_l("Workflow"))


class GrantForm(FlaskForm):
    user_id = SelectField(_l("Person"), coerce=int, validate_choice=False)
    role = SelectField(_l("Role"))


class DepartmentForm(FlaskForm):
    slug = StringField(
        _l("Short name in addresses"),
        validators=[DataRequired(), Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lower-case letters, digits and '-'."))],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), _Length(max=200)])


class DepartmentMemberForm(FlaskForm):
    user_id = SelectField(_l("Person"), coerce=int, validate_choice=False)


class StatementRequestForm(FlaskForm):
    department = SelectField(_l("Department"), validate_choice=False)
    question = TextAreaField(_l("Question to the department (optional)"), validators=[_Length(max=10_000)])
    due_days = IntegerField(
        _l("Days to answer"),
        validators=[Optional(), NumberRange(min=1, max=3650, message=_l("A whole number of days, at least 1."))],
    )


class StatementAnswerForm(FlaskForm):
    body = TextAreaField(
        _l("Statement (Markdown)"),
        validators=[DataRequired(message=_l("A statement needs some text.")), _at_most(BODY_MAX)],
        render_kw=_counted(BODY_MAX),
    )
    visibility = SelectField(
        _l("Who may read it"),
        choices=options(
            [
                ("public", _l("Everyone who sees the recommendation")),
                ("internal", _l("Internal: the department and the steering round")),
            ]
        ),
    )


class StatementDeclineForm(FlaskForm):
    reason = TextAreaField(
        _l("Why the department does not give a statement"), validators=[DataRequired(message=_l("Please give a reason."))]
    )


class OverviewForm(FlaskForm):
    """A process's entry in the overview of procedures; the service checks every value (and says why)."""

    description = TextAreaField(_l("Description (Markdown)"), validators=[_at_most(BODY_MAX)], render_kw=_counted(BODY_MAX))
    status = SelectField(
        _l("Status"),
        choices=[("planned", _l("planned")), ("running", _l("running")), ("finished", _l("finished"))],
        validate_choice=False,
    )
    starts_on = StringField(_l("Start (YYYY-MM-DD)"), validators=[_Length(max=40)])
    ends_on = StringField(_l("End (YYYY-MM-DD)"), validators=[_Length(max=40)])
    participation = SelectField(
        _l("Level of participation"),
        choices=[("", _l("not stated")), ("inform", _l("inform")), ("consult", _l("consult")), ("co-decide", _l("co-decide"))],
        validate_choice=False,
    )
    contact = TextAreaField(_l("Contact person"), validators=[_Length(max=500)])
    links = TextAreaField(_l("Links, one per line: the address, then a space and its title"), validators=[_Length(max=6_000)])


class SessionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), _Length(max=200)])
    held_at = StringField(_l("Date and time"), validators=[DataRequired()], render_kw={"type": "datetime-local"})
    place = StringField(_l("Place"), validators=[_Length(max=200)])
    participants = TextAreaField(_l("Participants"), validators=[_Length(max=50_000)])


class MinutesForm(FlaskForm):
    place = StringField(_l("Place"), validators=[_Length(max=200)])
    participants = TextAreaField(_l("Participants (attendance)"), validators=[_Length(max=50_000)])
    notes = TextAreaField(_l("Notes for the minutes"), validators=[_Length(max=50_000)])


class AgendaAddForm(FlaskForm):
    recommendation_id = SelectField(_l("Recommendation"), coerce=int, validate_choice=False)


class SessionDecisionForm(FlaskForm):
    trigger = StringField(_l("Decision"), validators=[DataRequired(message=_l("Choose a decision."))])
    note = TextAreaField(_l("Justification"), validators=[_Length(max=10_000)], render_kw={"rows": 5})
    version = IntegerField(validators=[DataRequired()])
    confirm = BooleanField(_l("I confirm this decision. It is final and cannot be undone."))
    template = SubmitField(_l("Start from the answer template of the chosen decision"))


class ConfirmForm(FlaskForm):
    """A destructive button's second step: the confirmation page posts it with ``confirm``."""

    confirm = HiddenField()


class FollowUpForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[])
    body = TextAreaField(
        _l("Report (Markdown)"),
        validators=[DataRequired(message=_l("A report needs some text.")), _at_most(COMMENT_MAX)],
        render_kw=_counted(COMMENT_MAX),
    )
    next_days = IntegerField(
        _l("Next report due in (days, optional)"),
        validators=[Optional(), NumberRange(min=1, max=730, message=_l("From 1 to 730 days."))],
    )
    department = SelectField(_l("Responsible department (optional)"), validate_choice=False)


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), _Length(max=254)])


class NewPasswordForm(FlaskForm):
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, message=_l("At least 10 characters."))])


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    name = StringField(_l("Name"), validators=[DataRequired(), _Length(max=200)])


MODE_CHOICES = [("immediate", _l("At once")), ("digest", _l("Daily summary")), ("off", _l("No e-mail"))]


class NotificationSettingsForm(FlaskForm):
    your_turn = SelectField(_l("A recommendation waits for a step of mine"), choices=MODE_CHOICES)
    authored = SelectField(_l("A recommendation I wrote moved on"), choices=MODE_CHOICES)
    statement = SelectField(_l("My department is asked for a statement"), choices=MODE_CHOICES)
    reply = SelectField(_l("Someone replied to my comment"), choices=MODE_CHOICES)
    deadline = SelectField(_l("A decision I take part in is due soon or overdue"), choices=MODE_CHOICES)
    report = SelectField(_l("A comment was reported (moderators)"), choices=MODE_CHOICES)
    followed = SelectField(_l("Activity on what I follow"), choices=MODE_CHOICES)
    language = SelectField(
        _l("Language of my e-mails"), choices=[("", _l("The installation's language")), ("de", "Deutsch"), ("en", "English")]
    )


class CategoryForm(FlaskForm):
    slug = StringField(_l("Short name (slug)"), validators=[DataRequired(), _Length(max=100)])
    name = StringField(_l("Name"), validators=[DataRequired(), _Length(max=200)])
    department = SelectField(_l("Routed to"), choices=[], validate_choice=False)


class RouteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), _Length(max=200)])
    department = SelectField(_l("Routed to"), choices=[], validate_choice=False)


class AffiliationForm(FlaskForm):
    """An affiliation group from the installation's list (choices set per request), or none."""

    group = SelectField(_l("My affiliation group"), choices=[], validate_choice=False)


class EraseForm(FlaskForm):
    """Erasing a person cannot be undone: the superuser types the person's e-mail address to confirm."""

    confirm = StringField(_l("Type the person's e-mail address to confirm"), validators=[DataRequired(), _Length(max=254)])


class IntakeForm(FlaskForm):
    """A resident's concern, sent without an account (app/services/intake.py). ``website`` is the
    honeypot (hidden from people by the page), ``started`` the signed time the form was shown."""

    name = StringField(_l("Your name (optional)"), validators=[Optional(), _Length(max=200)])
    email = EmailField(_l("Your e-mail address"), validators=[DataRequired(), _Length(max=254)])
    title = StringField(_l("Subject"), validators=[DataRequired(), _Length(max=200)])
    body = TextAreaField(
        _l("Your concern (Markdown)"), validators=[DataRequired(), _at_most(BODY_MAX)], render_kw=_counted(BODY_MAX)
    )
    # The process's categories, each routed to a department (set per request; none: not shown).
    category = SelectField(_l("Topic (optional)"), choices=[], validate_choice=False)
    website = StringField(_l("Leave this field empty"))
    started = HiddenField()
