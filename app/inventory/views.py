"""Material lots and equipment pages: lists with status badges, receipt, QA decisions, calibration."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.auth.forms import ReasonForm
from app.auth.permissions import roles
from app.auth.roles import AUDITOR, OPERATOR, QA, QC_ANALYST, SUPERVISOR
from app.common.errors import RuleViolation
from app.common.timeutil import site_today
from app.common.web import submit
from app.extensions import db
from app.inventory import forms, services
from app.inventory.models import Equipment, MaterialLot

bp = Blueprint("inventory", __name__, template_folder="templates", url_prefix="/inventory")
READERS = (OPERATOR, SUPERVISOR, QA, QC_ANALYST, AUDITOR)
KEEPERS = services.STOREKEEPERS
Page = Response | tuple[str, int] | str


@bp.route("/materials")
@roles(*READERS)
def material_lots() -> tuple[str, int]:
    form = forms.MaterialLotFilterForm(request.args)
    valid = form.validate()
    lots = services.search_material_lots(db.session, form.q.data, form.status.data) if valid else []
    return render_template("inventory/material_lots.html", form=form, lots=lots,
                           today=site_today()), 200 if valid else 400  # fmt: skip


def _receive_page(form: forms.ReceiveMaterialLotForm, error: RuleViolation | None = None) -> str:
    items, _ = services.loaded_catalogue(db.session)
    return render_template("form_page.html", title="Receive a material lot", form=form, error=error,
                           list_id="bom-codes", options=items, submit_label="Receive into quarantine",
                           cancel_url=url_for("inventory.material_lots"))  # fmt: skip


@bp.route("/materials/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def receive() -> Page:
    form = forms.ReceiveMaterialLotForm()
    if request.method == "GET":
        return _receive_page(form)
    fields = {name: form[name].data for name in ("lot_code", "item_code", "name", "supplier", "supplier_lot",
                                                 "expiry_date", "unit", "quantity")}  # fmt: skip
    return submit(form, lambda: services.receive_material_lot(db.session, current_user, **fields),
                  "Lot received; it is in quarantine until QA releases it.",
                  _lot_url, lambda e: _receive_page(form, e))  # fmt: skip


def _lot_url(lot: MaterialLot) -> str:
    return url_for("inventory.material_lot", lot_id=lot.id)


def _lot_page(lot: MaterialLot, error: RuleViolation | None = None, **given: FlaskForm) -> str:
    # Forms not posted in this request start empty (formdata=None: they ignore the POST).
    page_forms = {"release_form": ReasonForm(formdata=None, prefix="release"),
                  "reject_form": ReasonForm(formdata=None, prefix="reject"),
                  "expiry_form": forms.ExpiryForm(formdata=None, prefix="expiry"), **given}  # fmt: skip
    return render_template("inventory/material_lot.html", lot=lot, today=site_today(), error=error, **page_forms)


@bp.route("/materials/<int:lot_id>")
@roles(*READERS)
def material_lot(lot_id: int) -> str:
    return _lot_page(services.get_material_lot(db.session, lot_id))


@bp.route("/materials/<int:lot_id>/release", methods=["POST"])
@roles(QA)
def release(lot_id: int) -> Page:
    lot, form = services.get_material_lot(db.session, lot_id), ReasonForm(prefix="release")
    return submit(
        form,
        lambda: services.release_material_lot(db.session, current_user, lot, form.reason.data),
        f"Lot {lot.lot_code} released.",
        _lot_url(lot),
        lambda e: _lot_page(lot, e, release_form=form),
    )


@bp.route("/materials/<int:lot_id>/reject", methods=["POST"])
@roles(QA)
def reject(lot_id: int) -> Page:
    lot, form = services.get_material_lot(db.session, lot_id), ReasonForm(prefix="reject")
    return submit(
        form,
        lambda: services.reject_material_lot(db.session, current_user, lot, form.reason.data),
        f"Lot {lot.lot_code} rejected.",
        _lot_url(lot),
        lambda e: _lot_page(lot, e, reject_form=form),
    )


@bp.route("/materials/<int:lot_id>/expiry", methods=["POST"])
@roles(QA)
def expiry(lot_id: int) -> Page:
    lot, form = services.get_material_lot(db.session, lot_id), forms.ExpiryForm(prefix="expiry")
    return submit(form, lambda: services.set_expiry(db.session, current_user, lot, form.expiry_date.data,
                                                    form.reason.data),
                  f"Expiry date of lot {lot.lot_code} changed.", _lot_url(lot),
                  lambda e: _lot_page(lot, e, expiry_form=form))  # fmt: skip


@bp.route("/equipment")
@roles(*READERS)
def equipment_list() -> tuple[str, int]:
    form = forms.EquipmentFilterForm(request.args)
    valid = form.validate()
    items = services.search_equipment(db.session, form.q.data, form.status.data) if valid else []
    return render_template("inventory/equipment_list.html", form=form, items=items,
                           today=site_today()), 200 if valid else 400  # fmt: skip


def _register_page(form: forms.EquipmentForm, error: RuleViolation | None = None) -> str:
    _, types = services.loaded_catalogue(db.session)
    return render_template("form_page.html", title="Register equipment", form=form, error=error,
                           list_id="equipment-types", options=types, submit_label="Register",
                           cancel_url=url_for("inventory.equipment_list"))  # fmt: skip


@bp.route("/equipment/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def equipment_new() -> Page:
    form = forms.EquipmentForm()
    if request.method == "GET":
        return _register_page(form)
    fields = {name: form[name].data for name in ("code", "type_code", "name", "location", "calibration_due")}
    return submit(form, lambda: services.register_equipment(db.session, current_user, **fields),
                  "Equipment registered.", _equipment_url,
                  lambda e: _register_page(form, e))  # fmt: skip


def _equipment_url(item: Equipment) -> str:
    return url_for("inventory.equipment_detail", equipment_id=item.id)


def _equipment_page(item: Equipment, error: RuleViolation | None = None, **given: FlaskForm) -> str:
    page_forms = {"status_form": forms.EquipmentStatusForm(formdata=None, prefix="status"),
                  "calibration_form": forms.CalibrationForm(formdata=None, prefix="calibration"), **given}  # fmt: skip
    return render_template("inventory/equipment.html", item=item, today=site_today(), error=error, **page_forms)


@bp.route("/equipment/<int:equipment_id>")
@roles(*READERS)
def equipment_detail(equipment_id: int) -> str:
    return _equipment_page(services.get_equipment(db.session, equipment_id))


@bp.route("/equipment/<int:equipment_id>/status", methods=["POST"])
@roles(*KEEPERS)
def equipment_status(equipment_id: int) -> Page:
    item, form = services.get_equipment(db.session, equipment_id), forms.EquipmentStatusForm(prefix="status")
    return submit(form, lambda: services.set_equipment_status(db.session, current_user, item, form.status.data,
                                                              form.reason.data),
                  f"Status of {item.code} changed.", _equipment_url(item),
                  lambda e: _equipment_page(item, e, status_form=form))  # fmt: skip


@bp.route("/equipment/<int:equipment_id>/calibration", methods=["POST"])
@roles(*KEEPERS)
def equipment_calibration(equipment_id: int) -> Page:
    item, form = services.get_equipment(db.session, equipment_id), forms.CalibrationForm(prefix="calibration")
    return submit(form, lambda: services.record_calibration(db.session, current_user, item,
                                                            form.calibration_due.data, form.reason.data),
                  f"Calibration of {item.code} recorded.", _equipment_url(item),
                  lambda e: _equipment_page(item, e, calibration_form=form))  # fmt: skip
