"""Limits shared by the engine and the request path (nothing imported: a web process reads them
without numpy)."""

# Cart completion reads each cart item's top CART_DEPTH neighbours (by score: the published rank),
# or as many as the widget shows where that is more. Reading deeper did not change CART quality on
# Complete Journey (``benchmarks/cart_depth.py``, figures in docs/quality.md), and a cold cart's
# query reads a fifth of the rows it would at the full 50.
CART_DEPTH = 10


def cart_depth(limit: int) -> int:
    """How many of each cart item's neighbours cart completion reads for a list of ``limit``: the
    widget and the engine call this, so that they read the same rows."""
    return max(CART_DEPTH, limit)
