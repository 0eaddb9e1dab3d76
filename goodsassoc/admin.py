from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from goodsassoc import admin_feedback, charts
from goodsassoc.admin_feedback import BoundedPaginator, RecentFilter
from goodsassoc.models import IdentityLink, Interaction, MerchantRule, ModelVersion, ProductCard, TrainingRun

EXPORT_COLUMNS = ["timestamp", "kind", "product_key", "shop_key", "quantity", "value", "basket_key", "source",
                  "user_pseudonym", "anonymous_id", "event_id"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    """The interaction browser: filters, exact searches and CSV export, all bounded on huge tables."""

    list_display = ("timestamp", "kind", "product_key", "shop_key", "quantity", "value", "basket_key", "source")
    list_filter = (RecentFilter, "kind", "source")
    search_fields = ("=product_key", "=basket_key", "=user_pseudonym", "=anonymous_id")
    show_full_result_count = False  # no full-table count on large tables
    paginator = BoundedPaginator  # ... nor a full count of a filtered one
    readonly_fields = [f.name for f in Interaction._meta.fields]
    change_list_template = "admin/goodsassoc/interaction/change_list.html"

    def has_add_permission(self, request):  # interactions come from shoppers, not from the admin
        return False

    def get_urls(self):
        view = self.admin_site.admin_view(self.export_view)
        return [path("export/", view, name="goodsassoc_interaction_export"), *super().get_urls()]

    def export_view(self, request):
        """The changelist's current filters and search as CSV (at most INTERACTION_EXPORT_MAX_ROWS rows)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).get_queryset(request).order_by("-timestamp")
        return admin_feedback.export_csv(queryset, EXPORT_COLUMNS, "interactions.csv")


@admin.register(IdentityLink)
class IdentityLinkAdmin(admin.ModelAdmin):
    list_display = ("anonymous_id", "user_pseudonym", "linked_at")
    search_fields = ("=anonymous_id", "=user_pseudonym")
    readonly_fields = ("anonymous_id", "user_pseudonym", "linked_at")


@admin.register(MerchantRule)
class MerchantRuleAdmin(admin.ModelAdmin):
    list_display = ("action", "widget", "anchor_key", "target_key", "factor", "active", "note", "updated_at")
    list_editable = ("active",)
    list_filter = ("action", "widget", "active")
    search_fields = ("=anchor_key", "=target_key", "note")


@admin.register(ProductCard)
class ProductCardAdmin(admin.ModelAdmin):
    """What the widgets show of each product (read-only: cards follow the products, goodsassoc.cards)."""

    list_display = ("product_key", "title", "price", "shop_key", "category", "available", "synced_at")
    list_filter = ("available",)
    search_fields = ("=product_key", "title")
    show_full_result_count = False
    readonly_fields = [f.name for f in ProductCard._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "created_at", "published_at", "related_ndcg", "cart_ndcg", "lines", "note")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ModelVersion._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("related NDCG@10"))
    def related_ndcg(self, obj):
        return _metric(obj.metrics, "related")

    @admin.display(description=_("cart NDCG@10"))
    def cart_ndcg(self, obj):
        return _metric(obj.metrics, "cart")

    @admin.display(description=_("lines"))
    def lines(self, obj):
        return (obj.counts or {}).get("lines")


def _metric(metrics, task):
    value = ((metrics or {}).get("holdout", {}).get(task, {}) or {}).get("NDCG@10")
    return None if value is None else f"{value:.4f}"


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("__str__", "trigger", "created_at", "progress_bar", "stage", "model_version", "short_error")
    list_filter = ("status", "kind", "trigger")
    readonly_fields = [f.name for f in TrainingRun._meta.fields]
    change_list_template = "admin/goodsassoc/trainingrun/change_list.html"

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("progress"))
    def progress_bar(self, obj):
        percent = round(100 * (obj.progress or 0))
        return format_html('<progress max="100" value="{}" title="{}%"></progress> {}%', percent, percent, percent)

    @admin.display(description=_("error or reason"))
    def short_error(self, obj):
        return (obj.error or "").splitlines()[0][:120] if obj.error else ""

    def changelist_view(self, request, extra_context=None):
        active = TrainingRun.objects.filter(status__in=["queued", "running"]).exists()
        return super().changelist_view(request, {**(extra_context or {}), "refresh_while_running": active,
                                                 **training_history()})

    def get_urls(self):
        view = self.admin_site.admin_view(self.retrain_now)
        return [path("retrain/", view, name="goodsassoc_trainingrun_retrain"), *super().get_urls()]

    def retrain_now(self, request):
        """Queue a retrain on a Celery worker (inline where tasks run eagerly, as in the demo)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        from goodsassoc import pipeline, tasks

        run_id = pipeline.prepare_run("retrain", trigger=f"admin:{request.user.get_username()}")
        tasks.retrain.delay(run_id=run_id, trigger="admin")
        self.message_user(request, _("Run #%(id)s started; its progress shows here.") % {"id": run_id},
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:goodsassoc_trainingrun_changelist"))


HISTORY_RUNS = 30


def training_history() -> dict:
    """The last runs' offline metrics beside the popularity baseline measured in the same run."""
    runs = list(TrainingRun.objects.exclude(metrics={}).filter(kind="retrain")
                .order_by("-id").values("id", "finished_at", "status", "metrics")[:HISTORY_RUNS])[::-1]
    rows = []
    for run in runs:
        holdout, popularity = run["metrics"].get("holdout") or {}, run["metrics"].get("popularity") or {}
        if not holdout:
            continue
        queries = run["metrics"].get("queries")
        if isinstance(queries, dict):
            queries = ", ".join(f"{task} {count}" for task, count in queries.items())
        row = {"id": run["id"], "finished_at": run["finished_at"], "status": run["status"], "queries": queries}
        for task in ("related", "cart"):
            row[f"{task}_model"] = (holdout.get(task) or {}).get("NDCG@10")
            row[f"{task}_popularity"] = (popularity.get(task) or {}).get("NDCG@10")
        rows.append(row)
    labels = [f"#{r['id']}" for r in rows]
    series = {f"{task} {who}": [r[f"{task}_{who}"] for r in rows]
              for task in ("related", "cart") for who in ("model", "popularity")}
    chart = charts.line_chart(labels, series, title="Holdout NDCG@10 per run: model and popularity baseline",
                              width=720) if rows else ""
    return {"history": rows[::-1], "history_chart": chart}
