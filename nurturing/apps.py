from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _schedules(sender, **kwargs):
    from nurturing.tasks import ensure_schedules

    ensure_schedules()


class NurturingConfig(AppConfig):
    name = "nurturing"
    verbose_name = "Nurturing sequences"

    def ready(self):
        from crm.signals import demo_seeded
        from nurturing import bulk, demo, receivers

        receivers.connect()
        demo_seeded.connect(demo.seed_demo_receiver, dispatch_uid="nurturing.demo")
        bulk.register()
        post_migrate.connect(_schedules, sender=self)
