"""Limits shared by the engine and the request path (nothing imported: a web process reads them
without numpy)."""

# Cart completion reads each cart item's top CART_DEPTH neighbours (by score: the published rank),
# or as many as the widget shows where that is more. On Complete Journey's test carts, NDCG@10 of
# the shipped blend was the same at depths 10, 15, 20, 30 and 50 (0.0908 to 0.0910), and a cart's
# query reads a fifth of the rows it would at 50.
CART_DEPTH = 10
