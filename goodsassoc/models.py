"""Concrete goodsassoc models."""

from goodsassoc.abstract_models import AbstractIdentityLink, AbstractInteraction, InteractionKind, InteractionSource

__all__ = ["IdentityLink", "Interaction", "InteractionKind", "InteractionSource"]


class Interaction(AbstractInteraction):
    class Meta(AbstractInteraction.Meta):
        abstract = False
        db_table = "goodsassoc_interaction"


class IdentityLink(AbstractIdentityLink):
    class Meta(AbstractIdentityLink.Meta):
        abstract = False
        db_table = "goodsassoc_identity_link"
