"""Login, password and user administration forms."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.auth.roles import ALL_ROLES, ROLE_LABELS


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("New password again", validators=[DataRequired(), Length(max=256)])


class RolesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[SelectChoice]:
    # SelectChoice, not (value, label) tuples: WTForms 3.3 deprecates tuples (a warning per page).
    return [SelectChoice(r, ROLE_LABELS[r]) for r in ALL_ROLES]


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    full_name = StringField("Full name (printed with signatures)",
                            validators=[DataRequired(), Length(max=200)])  # fmt: skip
    roles = RolesField("Roles", choices=_role_choices(), validators=[DataRequired()])
    password = PasswordField("Initial password (must be changed at first login)",
                             validators=[DataRequired(), Length(max=256)])  # fmt: skip


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=1000)])


class RolesForm(ReasonForm):
    roles = RolesField("Roles", choices=_role_choices(), validators=[DataRequired()])


class ResetPasswordForm(ReasonForm):
    password = PasswordField("Temporary password", validators=[DataRequired(), Length(max=256)])
