"""Serializers that describe the API in the OpenAPI schema.

Validation itself happens in :mod:`goodsassoc.recording`, the one place every capture
path goes through, so the rules cannot drift apart.
"""

from rest_framework import serializers

from goodsassoc.abstract_models import InteractionKind


class EventSerializer(serializers.Serializer):
    event_id = serializers.UUIDField(help_text="Chosen by the client; a retried event with the same id is stored once.")
    kind = serializers.ChoiceField(choices=InteractionKind.choices)
    product = serializers.CharField(max_length=64, help_text="Primary key of the host's product (for feedback on "
                                    "the shops widget, send the shop instead).")
    shop = serializers.CharField(max_length=64, required=False, help_text="Primary key of the host's shop.")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, required=False, default=1)
    value = serializers.DecimalField(max_digits=14, decimal_places=2, required=False,
                                     help_text="Money value of the line.")
    basket = serializers.CharField(max_length=64, required=False, help_text="Basket or order reference.")
    timestamp = serializers.DateTimeField(required=False, help_text="ISO 8601 with a time zone; default: now.")
    anonymous_id = serializers.UUIDField(required=False, help_text="Defaults to goodsassoc's cookie.")
    user = serializers.CharField(required=False, help_text="Host user id; trusted callers only. Stored pseudonymised.")
    # Feedback on recommendations: impression and click events only (see docs/feedback.md).
    request_id = serializers.CharField(required=False, help_text="The widget response's request_id "
                                       "(impression and click events: required).")
    widget = serializers.ChoiceField(choices=["related", "cart", "shops"], required=False,
                                     help_text="The widget the item was shown in (impression and click: required).")
    position = serializers.IntegerField(min_value=1, required=False, help_text="1-based position as shown "
                                        "(impression and click: required).")
    strategy = serializers.CharField(required=False, help_text="The response's strategy.")
    model_version = serializers.IntegerField(required=False, help_text="The response's model_version.")
    arm = serializers.CharField(required=False, help_text="The response's A/B arm, if any.")
    anchor = serializers.CharField(required=False, help_text="The product whose page showed the widget.")


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True)


class EventBatchResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(help_text="Events whose id had been stored before: skipped.")


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(required=False)
    event_id = serializers.CharField(required=False)
    field = serializers.CharField()
    message = serializers.CharField()


class ErrorResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = EventErrorSerializer(many=True)


class RecommendationSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="1-based position as shown; send it back with click events.")
    key = serializers.CharField(help_text="The product's (or shop's) primary key.")
    title = serializers.CharField()
    price = serializers.FloatField(required=False, allow_null=True)
    url = serializers.CharField(allow_null=True)
    score = serializers.FloatField()
    reason = serializers.CharField(help_text="bought_together, similar_item, popular, bought_before, "
                                             "matches_your_taste, merchant_pick, shop_you_use, shoppers_like_you, "
                                             "popular_shop")
    reason_text = serializers.CharField(help_text="The reason in words, e.g. 'Bought together 132 times'.")
    evidence = serializers.DictField(help_text="The figures behind the reason.")


class RecommendationsSerializer(serializers.Serializer):
    widget = serializers.ChoiceField(choices=["related", "cart", "shops"])
    request_id = serializers.CharField(help_text="Identifies this response in impression and click events.")
    model_version = serializers.IntegerField(allow_null=True)
    strategy = serializers.CharField(help_text="model, popular_in_category, popular, or error")
    arm = serializers.CharField(help_text="The shopper's A/B arm ('test:arm'), or empty; send it back with feedback.")
    items = RecommendationSerializer(many=True)
