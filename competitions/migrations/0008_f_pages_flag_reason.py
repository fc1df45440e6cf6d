from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("competitions", "0007_b_fidelity_submission_layout")]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="flag_reason",
            field=models.CharField(
                blank=True,
                help_text="the instructor's reason, shown to the entrant",
                max_length=300,
            ),
        ),
    ]
