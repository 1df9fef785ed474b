"""Move the keys of DRF's ``authtoken`` table (kept in clear) into ``crm.ApiToken`` (kept hashed).

Partners keep calling the API with the key they have: the hash of that key is stored, and the
clear-text rows are deleted, so no usable key is left in the database. The table is read with raw
SQL only when it exists, so this migration needs no dependency on ``rest_framework.authtoken`` (no
longer installed) and is a no-op on a new database.
"""

import hashlib
from datetime import UTC

from django.db import migrations
from django.utils import timezone

LEGACY_TABLE = "authtoken_token"
MIGRATED_NAME = "API token (before named tokens)"


def move_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    api_token = apps.get_model("crm", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {LEGACY_TABLE}")  # noqa: S608 — a constant
        rows = cursor.fetchall()
        api_token.objects.bulk_create(
            api_token(
                user_id=user_id,
                name=MIGRATED_NAME,
                prefix=key[:8],
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                # SQLite hands the column back naive (UTC, as Django stored it).
                created_at=timezone.make_aware(created, UTC) if timezone.is_naive(created) else created,
            )
            for key, user_id, created in rows
        )
        cursor.execute(f"DELETE FROM {LEGACY_TABLE}")  # noqa: S608 — a constant


class Migration(migrations.Migration):
    dependencies = [("crm", "0005_api_token")]

    operations = [migrations.RunPython(move_tokens, migrations.RunPython.noop)]
