"""Amazon Chime SDK voice (PSTN audio), thin and typed: one coroutine per API call the portal makes."""

from __future__ import annotations

from typing import Any

from portal.aws.clients import aws_client

SERVICE = "chime-sdk-voice"


async def sma_create(*, name: str, aws_region: str, lambda_arn: str) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as voice:
        response = await voice.create_sip_media_application(
            AwsRegion=aws_region, Name=name, Endpoints=[{"LambdaArn": lambda_arn}]
        )
    return response["SipMediaApplication"]


async def sma_update(*, sma_id: str, name: str, lambda_arn: str) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as voice:
        response = await voice.update_sip_media_application(
            SipMediaApplicationId=sma_id, Name=name, Endpoints=[{"LambdaArn": lambda_arn}]
        )
    return response["SipMediaApplication"]


async def sma_delete(*, sma_id: str) -> None:
    async with aws_client(SERVICE, mutating=True) as voice:
        await voice.delete_sip_media_application(SipMediaApplicationId=sma_id)


def _targets(sma_id: str, priority: int, aws_region: str) -> list[dict[str, Any]]:
    return [{"SipMediaApplicationId": sma_id, "Priority": priority, "AwsRegion": aws_region}]


async def rule_create(
    *, name: str, trigger_type: str, trigger_value: str, disabled: bool, sma_id: str, priority: int, aws_region: str
) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as voice:
        response = await voice.create_sip_rule(
            Name=name,
            TriggerType=trigger_type,
            TriggerValue=trigger_value,
            Disabled=disabled,
            TargetApplications=_targets(sma_id, priority, aws_region),
        )
    return response["SipRule"]


async def rule_update(
    *, rule_id: str, name: str, disabled: bool, sma_id: str, priority: int, aws_region: str
) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as voice:
        response = await voice.update_sip_rule(
            SipRuleId=rule_id, Name=name, Disabled=disabled, TargetApplications=_targets(sma_id, priority, aws_region)
        )
    return response["SipRule"]


async def rule_delete(*, rule_id: str, name: str) -> None:
    """A rule is disabled before AWS lets it be deleted: both, in that order."""
    async with aws_client(SERVICE, mutating=True) as voice:
        await voice.update_sip_rule(SipRuleId=rule_id, Name=name, Disabled=True)
        await voice.delete_sip_rule(SipRuleId=rule_id)


async def call_create(*, sma_id: str, from_number: str, to_number: str, arguments: dict[str, str]) -> str:
    """CreateSipMediaApplicationCall: the new call's TransactionId."""
    async with aws_client(SERVICE, mutating=True) as voice:
        response = await voice.create_sip_media_application_call(
            SipMediaApplicationId=sma_id, FromPhoneNumber=from_number, ToPhoneNumber=to_number, ArgumentsMap=arguments
        )
    return response["SipMediaApplicationCall"]["TransactionId"]


async def call_update(*, sma_id: str, transaction_id: str, arguments: dict[str, str]) -> None:
    async with aws_client(SERVICE, mutating=True) as voice:
        await voice.update_sip_media_application_call(
            SipMediaApplicationId=sma_id, TransactionId=transaction_id, Arguments=arguments
        )


async def numbers_search(*, criteria: dict[str, str], max_results: int) -> list[str]:
    """SearchAvailablePhoneNumbers: the first page of numbers the account may order (criteria are the API's members:
    AreaCode, City, State, Country, TollFreePrefix, PhoneNumberType)."""
    async with aws_client(SERVICE) as voice:
        response = await voice.search_available_phone_numbers(**criteria, MaxResults=max_results)
    return response.get("E164PhoneNumbers", [])


async def number_order_create(*, product_type: str, numbers: list[str], name: str) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as voice:
        response = await voice.create_phone_number_order(
            ProductType=product_type, E164PhoneNumbers=numbers, **({"Name": name} if name else {})
        )
    return response["PhoneNumberOrder"]


async def number_order_get(*, order_id: str) -> dict[str, Any]:
    async with aws_client(SERVICE) as voice:
        response = await voice.get_phone_number_order(PhoneNumberOrderId=order_id)
    return response["PhoneNumberOrder"]


async def number_get(*, number_id: str) -> dict[str, Any]:
    async with aws_client(SERVICE) as voice:
        response = await voice.get_phone_number(PhoneNumberId=number_id)
    return response["PhoneNumber"]


async def number_update(*, number_id: str, changes: dict[str, str]) -> dict[str, Any]:
    """UpdatePhoneNumber once per detail (ProductType, CallingName, Name): AWS takes one at a time. The number as
    the last call answered it."""
    number: dict[str, Any] = {}
    async with aws_client(SERVICE, mutating=True) as voice:
        for member, value in changes.items():
            number = (await voice.update_phone_number(PhoneNumberId=number_id, **{member: value}))["PhoneNumber"]
    return number


async def number_delete(*, number_id: str) -> None:
    """DeletePhoneNumber: the number goes to the deletion queue (DeleteInProgress) for 7 days."""
    async with aws_client(SERVICE, mutating=True) as voice:
        await voice.delete_phone_number(PhoneNumberId=number_id)


async def number_restore(*, number_id: str) -> dict[str, Any]:
    """RestorePhoneNumber: a number in the deletion queue back to the account's inventory."""
    async with aws_client(SERVICE, mutating=True) as voice:
        response = await voice.restore_phone_number(PhoneNumberId=number_id)
    return response["PhoneNumber"]


async def phone_numbers_list(client: Any) -> list[dict[str, Any]]:
    """Every phone number of the account: ListPhoneNumbers, every page."""
    numbers: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = await client.list_phone_numbers(**kwargs)
        numbers.extend(page.get("PhoneNumbers", []))
        if not page.get("NextToken"):
            return numbers
        kwargs["NextToken"] = page["NextToken"]
