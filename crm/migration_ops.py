"""Migration operations of our own."""

from __future__ import annotations

from django.db import migrations
from django.db.models import Index


class DropFieldIndex(migrations.AlterField):
    """``AlterField`` of a field that only loses ``db_index``: its one index is dropped (and made
    again backwards) in place. Django's SQLite schema editor would instead copy the whole table
    into a new one: minutes on a table of a million leads or history rows, and the copy is made
    without the table's triggers (the search index's)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        column = model._meta.get_field(self.name).column
        named = {index.name for index in model._meta.indexes}
        # The lookup Django's own AlterField makes: a plain b-tree index on this column alone.
        for name in schema_editor._constraint_names(model, [column], index=True, type_=Index.suffix, exclude=named):
            schema_editor.execute(schema_editor._delete_index_sql(model, name))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[model._meta.get_field(self.name)]))

    def describe(self):
        return f"Drop the index of {self.model_name}.{self.name}"
