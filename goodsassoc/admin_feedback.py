"""The merchant's feedback admin: the dashboard, the feedback rows, and helpers for huge tables.

List pages never count a whole table: :class:`BoundedPaginator` counts at most
``LIST_COUNT_LIMIT`` rows (a LIMIT query) and pages through those.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from goodsassoc import charts, dashboard
from goodsassoc.conf import ga_settings
from goodsassoc.models import AttributedConversion, FeedbackDaily, ImpressionSet, RecommendationClick

LIST_COUNT_LIMIT = 10_000


class BoundedPaginator(Paginator):
    """Counts at most LIST_COUNT_LIMIT rows, so a list page costs a bounded query on any table size."""

    @cached_property
    def count(self) -> int:
        return len(self.object_list.values_list("pk", flat=True)[:LIST_COUNT_LIMIT])


class RecentFilter(admin.SimpleListFilter):
    """A date filter that needs no scan of the table (unlike date_hierarchy)."""

    title = _("time")
    parameter_name = "recent"
    field = "timestamp"
    CHOICES = {"1": (_("Last 24 hours"), 1), "7": (_("Last 7 days"), 7), "30": (_("Last 30 days"), 30)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(key, label) for key, (label, _days) in self.CHOICES.items()]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() in self.CHOICES:
            since = timezone.now() - timedelta(days=self.CHOICES[self.value()][1])
            return queryset.filter(**{f"{self.field}__gte": since})
        return queryset


class RecentShownFilter(RecentFilter):
    field = "shown_at"


class StrategyFilter(admin.SimpleListFilter):
    """Fixed choices: the default filter would scan the table for its distinct values."""

    title = _("strategy")
    parameter_name = "strategy"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s, s) for s in ("model", "popular_in_category", "popular", "error")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(strategy=self.value()) if self.value() else queryset


class _ReadOnlyFeedback(admin.ModelAdmin):
    paginator = BoundedPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ImpressionSet)
class ImpressionSetAdmin(_ReadOnlyFeedback):
    list_display = ("shown_at", "widget", "strategy", "model_version", "arm", "anchor_key", "items")
    list_filter = (RecentShownFilter, "widget", StrategyFilter)
    search_fields = ("=request_id", "=anchor_key")


@admin.register(RecommendationClick)
class RecommendationClickAdmin(_ReadOnlyFeedback):
    list_display = ("timestamp", "widget", "product_key", "position", "anchor_key", "strategy", "model_version", "arm")
    list_filter = (RecentFilter, "widget", StrategyFilter)
    search_fields = ("=request_id", "=product_key")


@admin.register(AttributedConversion)
class AttributedConversionAdmin(_ReadOnlyFeedback):
    list_display = ("timestamp", "kind", "widget", "product_key", "value", "position", "clicked_at", "model_version",
                    "arm")
    list_filter = (RecentFilter, "kind", "widget")
    search_fields = ("=request_id", "=product_key")


@admin.register(FeedbackDaily)
class FeedbackDashboardAdmin(admin.ModelAdmin):
    """The dashboard is this model's changelist: view permission on it opens the dashboard."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        refresh = self.admin_site.admin_view(self.refresh_view)
        return [path("refresh/", refresh, name="goodsassoc_feedbackdaily_refresh"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.now().astimezone(UTC).date()
        start, end, problems = dashboard.date_range(request.GET.get("start"), request.GET.get("end"), today)
        widget = request.GET.get("widget", "")
        if widget not in ("", "related", "cart", "shops"):
            problems.append(f"widget: unknown widget {widget!r}; all widgets are shown.")
            widget = ""
        for problem in problems:
            messages.warning(request, problem)
        data = dashboard.build(start, end, widget)
        labels = [f.label[5:] for f in data["daily"]]
        rates = {"click-through": [f.ctr for f in data["daily"]],
                 "add to cart": [f.add_to_cart_rate for f in data["daily"]],
                 "conversion": [f.conversion_rate for f in data["daily"]]}
        context = {
            **self.admin_site.each_context(request), **(extra_context or {}), **data,
            "title": _("Feedback dashboard"), "opts": self.model._meta, "start": start, "end": end,
            "widget": widget, "widgets": ["related", "cart", "shops"],
            "rate_chart": charts.line_chart(labels, rates, title="Rates per day", percent=True),
            "revenue_chart": charts.line_chart(labels, {"revenue": [float(f.revenue) for f in data["daily"]]},
                                               title="Attributed revenue per day"),
            "widget_chart": charts.bar_chart([f.label for f in data["per_widget"]],
                                             [f.ctr for f in data["per_widget"]],
                                             title="Click-through rate per widget", percent=True),
            "last_refresh": FeedbackDaily.objects.order_by("-day").values_list("day", flat=True).first(),
        }
        return TemplateResponse(request, "admin/goodsassoc/feedback_dashboard.html", context)

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        """Rebuild the summaries now (the periodic task does it on schedule)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        from goodsassoc import tasks

        tasks.refresh_feedback_summary.delay(days=ga_settings.FEEDBACK_SUMMARY_DAYS)
        self.message_user(request, _("The summaries are being refreshed."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:goodsassoc_feedbackdaily_changelist"))


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv(queryset: Any, columns: list[str], filename: str) -> StreamingHttpResponse:
    """Stream up to INTERACTION_EXPORT_MAX_ROWS rows as CSV, reading in chunks."""
    limit = ga_settings.INTERACTION_EXPORT_MAX_ROWS
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(columns)
        for row in queryset.values_list(*columns)[:limit].iterator(chunk_size=2000):
            yield writer.writerow([v.isoformat() if isinstance(v, datetime) else v for v in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
