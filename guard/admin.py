"""The admin's changelists, guarded: a staff member's forged or mistyped query is a 4xx.

Django's changelist takes filters from the query string, and allows any lookup on a model's own
fields (`?created_at__year=0`, `?buyer_name__regex=(`). Some of those make Python or the
database fail (a year outside datetime's range, a regular expression that does not compile),
which Django would answer with a 500. Here the changelist answers them as it answers any other
unusable filter: a redirect to the plain list with `?e=1`.
"""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import DataError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBadRequest
from django.utils.translation import gettext

# Ids of rows picked in a changelist: whole numbers that fit a bigint primary key.
SELECTED_ID = re.compile(r"[0-9]{1,18}")
SEARCH_MAX_LENGTH = 100
# Lookups no list filter uses, whose value the database compiles: a bad pattern is an error.
REFUSED_LOOKUPS = frozenset({"regex", "iregex"})


class GuardedModelAdmin(admin.ModelAdmin):
    """A changelist that answers forged input with a 4xx: an action posted with ids that are
    not ids, a search term too long for the database's pattern matching, or filters that
    cannot be applied (a year out of range, a pattern the database refuses)."""

    def response_action(self, request: HttpRequest, queryset: QuerySet, *args, **kwargs):
        picked = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if any(not SELECTED_ID.fullmatch(value) for value in picked):
            return HttpResponseBadRequest(gettext("잘못된 선택입니다 (invalid selection)."))
        return super().response_action(request, queryset, *args, **kwargs)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return super().get_search_results(request, queryset, search_term[:SEARCH_MAX_LENGTH])

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup.rsplit("__", 1)[-1] in REFUSED_LOOKUPS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_changelist_instance(self, request: HttpRequest):
        # The changelist applies its filters and counts and reads its page here: a value out
        # of Python's or the database's range fails now, not while the page renders.
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError, DataError) as exc:
            raise IncorrectLookupParameters(exc) from exc
