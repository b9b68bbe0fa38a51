from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def operation_run(operation_id: int) -> None:
    from portal.core.services import operation_execute

    operation_execute(operation_id=operation_id)


@shared_task(ignore_result=True)
def operations_sweep() -> int:
    from portal.core.services import operations_requeue_stuck

    return operations_requeue_stuck()
