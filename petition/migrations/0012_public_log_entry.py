# The public log's entry model is called PublicLogEntry (LogEntry was easily taken for the
# admin's own LogEntry). Only Django's picture of the model changes: the table keeps its name
# (Meta.db_table), so the database runs nothing and no lock is taken.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("petition", "0011_update_translations"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterModelTable(name="logentry", table="petition_logentry"),
                migrations.RenameModel(old_name="LogEntry", new_name="PublicLogEntry"),
            ],
            database_operations=[],
        ),
    ]
