"""A template-only blueprint: it makes the shared signing dialog (signatures/dialog.html)
available to every module's pages. The ceremony itself is services.sign()."""

from flask import Blueprint

bp = Blueprint("signatures", __name__, template_folder="templates")
