"""goodsassoc's JSON API (needs the ``api`` extra: djangorestframework, drf-spectacular)."""
