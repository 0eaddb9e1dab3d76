from django.db import migrations, models

TABLE = "goodsassoc_product_card"
# Each card as JSON [key, title, price, url, shop, category, available], in one statement.
FILL = {
    "postgresql": f"UPDATE {TABLE} SET packed = CAST(json_build_array(product_key, title, price, url, shop_key, "
                  "category, available) AS TEXT) WHERE packed = ''",
    "sqlite": f"UPDATE {TABLE} SET packed = json_array(product_key, title, price, url, shop_key, category, "
              "json(CASE WHEN available THEN 'true' ELSE 'false' END)) WHERE packed = ''",
}


def fill_packed(apps, schema_editor):
    """The packed form of the cards already written (by which the cart's query reads them)."""
    schema_editor.execute(FILL[schema_editor.connection.vendor])


class Migration(migrations.Migration):

    dependencies = [
        ('goodsassoc', '0007_related_head_keys'),
    ]

    operations = [
        migrations.AddField(
            model_name='productcard',
            name='packed',
            field=models.TextField(blank=True, default='', editable=False, help_text="The card as the widgets' query reads it (JSON: key, title, price, url, shop, category, available)."),
        ),
        migrations.RunPython(fill_packed, migrations.RunPython.noop),
    ]
