from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("competitions", "0008_f_pages_flag_reason")]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="queued_since",
            field=models.DateTimeField(
                blank=True, help_text="when it last became queued (a re-send keeps it)", null=True
            ),
        ),
        migrations.CreateModel(
            name="WorkerSeen",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hostname", models.CharField(max_length=200, unique=True)),
                ("queues", models.CharField(blank=True, max_length=200)),
                ("last_seen", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="StaffAlert",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(max_length=40, unique=True)),
                ("sent_at", models.DateTimeField()),
                ("message", models.TextField(blank=True)),
            ],
        ),
    ]
