"""Concrete goodsassoc models."""

from goodsassoc.abstract_models import (
    AbstractAttributedConversion,
    AbstractFeedbackDaily,
    AbstractFeedbackItemDaily,
    AbstractIdentityLink,
    AbstractImpressionSet,
    AbstractInteraction,
    AbstractMerchantRule,
    AbstractModelVersion,
    AbstractPopularItem,
    AbstractProductCard,
    AbstractRecommendationClick,
    AbstractRelatedHead,
    AbstractRelatedItem,
    AbstractServingState,
    AbstractShopperItem,
    AbstractShopperShop,
    AbstractTrainingRun,
    InteractionKind,
    InteractionSource,
    RunStatus,
    VersionStatus,
)

__all__ = [
    "AttributedConversion", "FeedbackDaily", "FeedbackItemDaily", "ImpressionSet", "RecommendationClick",
    "IdentityLink", "Interaction", "InteractionKind", "InteractionSource", "MerchantRule", "ModelVersion",
    "PopularItem", "ProductCard", "RelatedHead", "RelatedItem", "RunStatus", "ServingState", "ShopperItem",
    "ShopperShop", "TrainingRun", "VersionStatus",
]


class Interaction(AbstractInteraction):
    class Meta(AbstractInteraction.Meta):
        abstract = False
        db_table = "goodsassoc_interaction"


class IdentityLink(AbstractIdentityLink):
    class Meta(AbstractIdentityLink.Meta):
        abstract = False
        db_table = "goodsassoc_identity_link"


class ModelVersion(AbstractModelVersion):
    class Meta(AbstractModelVersion.Meta):
        abstract = False
        db_table = "goodsassoc_model_version"


class TrainingRun(AbstractTrainingRun):
    class Meta(AbstractTrainingRun.Meta):
        abstract = False
        db_table = "goodsassoc_training_run"


class ServingState(AbstractServingState):
    class Meta(AbstractServingState.Meta):
        abstract = False
        db_table = "goodsassoc_serving_state"


class RelatedItem(AbstractRelatedItem):
    class Meta(AbstractRelatedItem.Meta):
        abstract = False
        db_table = "goodsassoc_related_item"


class RelatedHead(AbstractRelatedHead):
    class Meta(AbstractRelatedHead.Meta):
        abstract = False
        db_table = "goodsassoc_related_head"


class ShopperItem(AbstractShopperItem):
    class Meta(AbstractShopperItem.Meta):
        abstract = False
        db_table = "goodsassoc_shopper_item"


class ShopperShop(AbstractShopperShop):
    class Meta(AbstractShopperShop.Meta):
        abstract = False
        db_table = "goodsassoc_shopper_shop"


class PopularItem(AbstractPopularItem):
    class Meta(AbstractPopularItem.Meta):
        abstract = False
        db_table = "goodsassoc_popular_item"


class ProductCard(AbstractProductCard):
    class Meta(AbstractProductCard.Meta):
        abstract = False
        db_table = "goodsassoc_product_card"


class MerchantRule(AbstractMerchantRule):
    class Meta(AbstractMerchantRule.Meta):
        abstract = False
        db_table = "goodsassoc_merchant_rule"


class ImpressionSet(AbstractImpressionSet):
    class Meta(AbstractImpressionSet.Meta):
        abstract = False
        db_table = "goodsassoc_impression_set"


class RecommendationClick(AbstractRecommendationClick):
    class Meta(AbstractRecommendationClick.Meta):
        abstract = False
        db_table = "goodsassoc_recommendation_click"


class AttributedConversion(AbstractAttributedConversion):
    class Meta(AbstractAttributedConversion.Meta):
        abstract = False
        db_table = "goodsassoc_attributed_conversion"


class FeedbackDaily(AbstractFeedbackDaily):
    class Meta(AbstractFeedbackDaily.Meta):
        abstract = False
        db_table = "goodsassoc_feedback_daily"


class FeedbackItemDaily(AbstractFeedbackItemDaily):
    class Meta(AbstractFeedbackItemDaily.Meta):
        abstract = False
        db_table = "goodsassoc_feedback_item_daily"
