from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gimmanager.config.models import SECTION_MODELS, OptionChange
from gimmanager.config.services import Changer, update_options


class SectionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Edits a section through the option service, so admin edits are validated
    by the same parsers and audited like any other change."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        new = {k: v for k, v in obj.values().items()}
        update_options({obj.SECTION: new}, by=Changer.of_user(request.user, "admin"))


for _model in SECTION_MODELS.values():
    admin.site.register(_model, SectionAdmin)


@admin.register(OptionChange)
class OptionChangeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("changed_at", "changed_by", "via", "section", "option", "old_value", "new_value")
    list_filter = ("section", "via")
    search_fields = ("option", "changed_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
