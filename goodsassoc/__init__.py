"""goodsassoc: product-association intelligence for Django shops.

Importing this package is cheap on purpose: no Django models, no TensorFlow.
"""

__version__ = "0.1.0"
