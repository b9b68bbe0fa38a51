from celery import shared_task


@shared_task(ignore_result=True)
def cleanup_scheduled_run(policy_id: int) -> int | None:
    """A policy's scheduled run (its django-celery-beat periodic task); the run's id, or None when it is disabled."""
    from portal.cleanup.models import CleanupPolicy, CleanupRun
    from portal.cleanup.services import cleanup_run

    policy = CleanupPolicy.objects.filter(pk=policy_id, enabled=True).first()
    if policy is None:
        return None
    return cleanup_run(policy=policy, actor=None, trigger=CleanupRun.Trigger.SCHEDULED).pk
