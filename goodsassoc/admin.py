from django.contrib import admin

from goodsassoc.models import IdentityLink, Interaction


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "kind", "product_key", "shop_key", "quantity", "value", "basket_key", "source")
    list_filter = ("kind", "source")
    search_fields = ("=product_key", "=basket_key", "=user_pseudonym", "=anonymous_id")
    date_hierarchy = "timestamp"
    show_full_result_count = False  # no full-table count on large tables
    readonly_fields = [f.name for f in Interaction._meta.fields]

    def has_add_permission(self, request):  # interactions come from shoppers, not from the admin
        return False


@admin.register(IdentityLink)
class IdentityLinkAdmin(admin.ModelAdmin):
    list_display = ("anonymous_id", "user_pseudonym", "linked_at")
    search_fields = ("=anonymous_id", "=user_pseudonym")
    readonly_fields = ("anonymous_id", "user_pseudonym", "linked_at")
