"""Shop events, sent by the views; goodsassoc listens to them via settings.

- ``product_viewed``: kwargs ``request``, ``product``.
- ``cart_changed``: kwargs ``request``, ``product``, ``quantity`` (the change:
  positive when added, negative when removed).
- ``order_placed``: kwargs ``request``, ``order`` (sent after the order commits).
"""

from django.dispatch import Signal

product_viewed = Signal()
cart_changed = Signal()
order_placed = Signal()
