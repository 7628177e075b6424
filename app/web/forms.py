"""Forms: every POST of the web interface goes through one of these, so every one carries CSRF."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, IntegerField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp


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
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(), Length(max=100_000)])
    version = HiddenField()
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save"))


class TransitionForm(FlaskForm):
    trigger = HiddenField(validators=[DataRequired()])
    version = IntegerField(validators=[DataRequired()])
    seen = IntegerField(validators=[Optional()])  # the newest event the page showed
    note = TextAreaField(_l("Note"), validators=[Length(max=10_000)])


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=20_000)])
    parent_id = HiddenField()
    visibility = HiddenField(default="public")


class EditCommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=20_000)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=10_000)])


class CoauthorForm(FlaskForm):
    # The service decides who may be added; the choices only help the person choosing.
    user_id = SelectField(_l("Co-author"), coerce=int, validate_choice=False)


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])  # the service checks the address
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    superuser = BooleanField(_l("Superuser (administers this installation)"))


class ProcessForm(FlaskForm):
    slug = StringField(_l("Short name in addresses"), validators=[DataRequired(), Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lower-case letters, digits and '-'."))])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    workflow = SelectField(_l("Workflow"))


class GrantForm(FlaskForm):
    user_id = SelectField(_l("Person"), coerce=int, validate_choice=False)
    role = SelectField(_l("Role"))


class DepartmentForm(FlaskForm):
    slug = StringField(_l("Short name in addresses"), validators=[DataRequired(), Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lower-case letters, digits and '-'."))])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])


class DepartmentMemberForm(FlaskForm):
    user_id = SelectField(_l("Person"), coerce=int, validate_choice=False)


class StatementRequestForm(FlaskForm):
    department = SelectField(_l("Department"), validate_choice=False)
    question = TextAreaField(_l("Question to the department (optional)"), validators=[Length(max=10_000)])
    due_days = IntegerField(_l("Days to answer"), validators=[Optional(), NumberRange(min=1, max=3650, message=_l("A whole number of days, at least 1."))])


class StatementAnswerForm(FlaskForm):
    body = TextAreaField(_l("Statement (Markdown)"), validators=[DataRequired(message=_l("A statement needs some text."))])
    visibility = SelectField(_l("Who may read it"), choices=[("public", _l("Everyone who sees the recommendation")),
                                                             ("internal", _l("Internal: the department and the steering round"))])


class StatementDeclineForm(FlaskForm):
    reason = TextAreaField(_l("Why the department does not give a statement"), validators=[DataRequired(message=_l("Please give a reason."))])


class EraseForm(FlaskForm):
    """Erasing a person cannot be undone: the superuser types the person's e-mail address to confirm."""
    confirm = StringField(_l("Type the person's e-mail address to confirm"), validators=[DataRequired(), Length(max=254)])
