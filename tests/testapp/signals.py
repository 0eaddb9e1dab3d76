from django.dispatch import Signal

purchase_completed = Signal()  # kwargs: purchase
article_seen = Signal()  # kwargs: request, product
basket_touched = Signal()  # kwargs: request, product, quantity
