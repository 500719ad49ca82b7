"""Batch execution rules. Views call these; nothing else changes lots, steps or entries."""

from app.batches.services.corrections import correct_entry, get_entry
from app.batches.services.entries import EntryRefused, StepInput, save_entries
from app.batches.services.labels import LABEL_ROLES, export_label_data, label_data
from app.batches.services.lots import (
    available_steps,
    get_lot,
    get_step,
    lots_in_progress,
    start_lot,
    startable_versions,
)
from app.batches.services.signoff import complete_step, record_and_sign, verify_step

__all__ = [
    "LABEL_ROLES", "EntryRefused", "StepInput", "available_steps", "complete_step", "correct_entry",
    "export_label_data", "get_entry", "get_lot", "get_step", "label_data", "lots_in_progress", "record_and_sign",
    "save_entries", "start_lot", "startable_versions", "verify_step",
]  # fmt: skip
