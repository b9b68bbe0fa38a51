from celery import shared_task


@shared_task(ignore_result=True)
def stages_refresh_live() -> dict[str, int]:
    from portal.stages.services import stages_refresh_live as refresh

    return refresh()
