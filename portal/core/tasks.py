from celery import shared_task
from celery.signals import worker_process_init, worker_process_shutdown
from django.conf import settings


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def operation_run(operation_id: int) -> None:
    from portal.core.services import operation_execute

    operation_execute(operation_id=operation_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def operations_run_together(operation_ids: list[int]) -> None:
    from portal.core.services import operations_execute_together

    operations_execute_together(operation_ids=operation_ids)


@shared_task(
    ignore_result=True,
    soft_time_limit=settings.REFRESH_LEASE_SECONDS * 0.8,
    time_limit=settings.REFRESH_LEASE_SECONDS * 0.9,
)
def refresh_run(name: str) -> dict[str, int] | None:
    """One cycle of a refresher, on the refresh queue's own worker slots."""
    from portal.core.refresh import refresh_run as run

    return run(name)


@shared_task(ignore_result=True)
def operations_sweep() -> int:
    from portal.core.services import operations_requeue_stuck

    return operations_requeue_stuck()


@shared_task(ignore_result=True)
def secrets_expire() -> int:
    from portal.core.secrets import secrets_expire as expire

    return expire()


@worker_process_init.connect
def _open_aws_runtime(**kwargs: object) -> None:
    """One event loop per worker process, with its AWS clients kept for every task the process runs."""
    from portal.aws.clients import aws_runtime

    aws_runtime()


@worker_process_shutdown.connect
def _close_aws_runtime(**kwargs: object) -> None:
    from portal.aws.clients import aws_runtime_close

    aws_runtime_close()
