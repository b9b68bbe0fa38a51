from celery import shared_task


@shared_task(ignore_result=True)
def captures_enforce_policies() -> int:
    """Stop the captures a policy says to (nobody joined within N minutes; past the maximum duration), as the
    scheduler, through the operation pipeline."""
    from portal.pipelines.services import captures_enforce_policies as enforce

    return enforce()
