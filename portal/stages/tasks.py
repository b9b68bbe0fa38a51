from celery import shared_task


@shared_task(ignore_result=True)
def stages_refresh_live() -> dict[str, int]:
    from portal.stages.services import stages_refresh_live as refresh

    return refresh()


@shared_task(ignore_result=True)
def token_handoffs_expire() -> int:
    from portal.stages.tokens import token_handoffs_expire as expire

    return expire()
