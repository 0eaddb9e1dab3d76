from django.db import migrations, models

TABLE = "goodsassoc_related_head"
# Each head's keys from its neighbours (entries [key, ...] in rank order), in one statement.
FILL = {
    "postgresql": f"UPDATE {TABLE} SET keys = (SELECT CAST(json_agg(e.value ->> 0 ORDER BY e.n) AS TEXT) "
                  "FROM json_array_elements(CAST(neighbours AS json)) WITH ORDINALITY e(value, n)) WHERE keys = '[]'",
    "sqlite": f"UPDATE {TABLE} SET keys = (SELECT json_group_array(json_extract(e.value, '$[0]')) "
              "FROM json_each(neighbours) e) WHERE keys = '[]'",
}


def fill_keys(apps, schema_editor):
    """The keys of the heads already published (by which the cart's query reads their cards)."""
    schema_editor.execute(FILL[schema_editor.connection.vendor])


class Migration(migrations.Migration):

    dependencies = [
        ('goodsassoc', '0006_related_heads'),
    ]

    operations = [
        migrations.AddField(
            model_name='relatedhead',
            name='keys',
            field=models.TextField(default='[]', help_text="JSON: the neighbours' product keys in rank order, by which the cart's query reads their cards."),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
    ]
