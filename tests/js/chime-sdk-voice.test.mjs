// Amazon Chime SDK voice through @aws-sdk/client-chime-sdk-voice: SIP media applications, SIP rules, the phone numbers
// seeded in the sandbox (+12065550100 to +12065550109), orders of new ones, and outbound calls. One file, run in order:
// the rules and calls share the seeded numbers.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { test } from "node:test";
import * as voice from "@aws-sdk/client-chime-sdk-voice";
import {
  ACCOUNT,
  assertTimestamp,
  control,
  pages,
  rejectsWith,
  sandboxClient,
  unique,
} from "./sandbox.mjs";

const client = sandboxClient(voice.ChimeSDKVoiceClient, "chime-sdk-voice");
const LAMBDA = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:js-conformance`;
const MISSING = "00000000-0000-4000-8000-00000000000a";
const UNKNOWN_NUMBER = "+19995550100";

async function newSma(extra = {}) {
  const { SipMediaApplication } = await client.send(
    new voice.CreateSipMediaApplicationCommand({
      AwsRegion: "us-east-1",
      Name: unique("js-sma"),
      Endpoints: [{ LambdaArn: LAMBDA }],
      ...extra,
    }),
  );
  return SipMediaApplication;
}

function targets(SipMediaApplicationId) {
  return [{ SipMediaApplicationId, Priority: 1, AwsRegion: "us-east-1" }];
}

/** An SMA handler that answers every invocation with no actions and keeps the events it was sent. */
async function quietHandler() {
  const events = [];
  const server = createServer(async (request, response) => {
    let body = "";
    for await (const chunk of request) {
      body += chunk;
    }
    events.push(JSON.parse(body));
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify({ SchemaVersion: "1.0", Actions: [] }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, events, url: `http://127.0.0.1:${server.address().port}/` };
}

async function eventually(predicate, what) {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    assert.ok(Date.now() < deadline, `${what} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("a SIP media application is created, read, renamed, listed with its paginator and deleted", async () => {
  const sma = await newSma();
  assert.match(sma.SipMediaApplicationId, /^[0-9a-f-]{36}$/);
  assert.equal(sma.SipMediaApplicationArn, `arn:aws:chime:us-east-1:${ACCOUNT}:sma/${sma.SipMediaApplicationId}`);
  assert.deepEqual(sma.Endpoints, [{ LambdaArn: LAMBDA }]);
  assertTimestamp(sma.CreatedTimestamp);
  const { SipMediaApplicationId } = sma;
  const got = await client.send(new voice.GetSipMediaApplicationCommand({ SipMediaApplicationId }));
  assert.equal(got.SipMediaApplication.Name, sma.Name);
  const renamed = unique("js-renamed");
  const updated = await client.send(
    new voice.UpdateSipMediaApplicationCommand({ SipMediaApplicationId, Name: renamed }),
  );
  assert.equal(updated.SipMediaApplication.Name, renamed);

  const others = [await newSma(), await newSma()];
  const walked = await pages(voice.paginateListSipMediaApplications({ client, pageSize: 1 }, {}));
  assert.ok(walked.length >= 3);
  const listed = walked.flatMap((page) => page.SipMediaApplications.map((item) => item.SipMediaApplicationId));
  for (const id of [SipMediaApplicationId, ...others.map((item) => item.SipMediaApplicationId)]) {
    assert.ok(listed.includes(id), `${id} is listed`);
  }
  for (const id of [SipMediaApplicationId, ...others.map((item) => item.SipMediaApplicationId)]) {
    await client.send(new voice.DeleteSipMediaApplicationCommand({ SipMediaApplicationId: id }));
  }
  await rejectsWith(
    client.send(new voice.GetSipMediaApplicationCommand({ SipMediaApplicationId })),
    voice.NotFoundException,
    404,
  );
});

test("a SIP rule routes a seeded number to an SMA; it must be disabled before it is deleted", async () => {
  const sma = await newSma();
  const { SipMediaApplicationId } = sma;
  const { SipRule } = await client.send(
    new voice.CreateSipRuleCommand({
      Name: unique("js-rule"),
      TriggerType: "ToPhoneNumber",
      TriggerValue: "+12065550101",
      TargetApplications: targets(SipMediaApplicationId),
    }),
  );
  assert.equal(SipRule.Disabled, false);
  assert.deepEqual(SipRule.TargetApplications, targets(SipMediaApplicationId));
  const { SipRuleId } = SipRule;
  const number = await client.send(new voice.GetPhoneNumberCommand({ PhoneNumberId: "+12065550101" }));
  assert.equal(number.PhoneNumber.Status, "Assigned");
  assert.equal(number.PhoneNumber.Associations[0].Value, SipRuleId);
  assertTimestamp(number.PhoneNumber.Associations[0].AssociatedTimestamp);

  const got = await client.send(new voice.GetSipRuleCommand({ SipRuleId }));
  assert.equal(got.SipRule.TriggerValue, "+12065550101");
  const rules = await pages(voice.paginateListSipRules({ client, pageSize: 1 }, { SipMediaApplicationId }));
  assert.deepEqual(
    rules.flatMap((page) => page.SipRules.map((rule) => rule.SipRuleId)),
    [SipRuleId],
  );

  const conflict = voice.ConflictException;
  await rejectsWith(client.send(new voice.DeleteSipMediaApplicationCommand({ SipMediaApplicationId })), conflict, 409);
  await rejectsWith(client.send(new voice.DeleteSipRuleCommand({ SipRuleId })), conflict, 409);
  await rejectsWith(
    client.send(
      new voice.CreateSipRuleCommand({
        Name: unique("js-rule"),
        TriggerType: "ToPhoneNumber",
        TriggerValue: "+12065550101",
        TargetApplications: targets(SipMediaApplicationId),
      }),
    ),
    conflict,
    409,
  );
  await rejectsWith(
    client.send(
      new voice.CreateSipMediaApplicationCommand({ AwsRegion: "us-east-1", Name: sma.Name, Endpoints: sma.Endpoints }),
    ),
    conflict,
    409,
  );

  const disabled = await client.send(new voice.UpdateSipRuleCommand({ SipRuleId, Name: SipRule.Name, Disabled: true }));
  assert.equal(disabled.SipRule.Disabled, true);
  await client.send(new voice.DeleteSipRuleCommand({ SipRuleId }));
  await client.send(new voice.DeleteSipMediaApplicationCommand({ SipMediaApplicationId }));
  const released = await client.send(new voice.GetPhoneNumberCommand({ PhoneNumberId: "+12065550101" }));
  assert.equal(released.PhoneNumber.Status, "Unassigned");
});

test("the account's numbers: listed with the paginator, renamed, deleted and restored", async () => {
  const walked = await pages(voice.paginateListPhoneNumbers({ client, pageSize: 4 }, {}));
  const numbers = walked.flatMap((page) => page.PhoneNumbers.map((number) => number.E164PhoneNumber));
  for (let n = 100; n < 110; n += 1) {
    assert.ok(numbers.includes(`+1206555${String(n).padStart(4, "0")}`));
  }
  assert.ok(walked.every((page) => page.PhoneNumbers.length <= 4));

  const renamed = await client.send(
    new voice.UpdatePhoneNumberCommand({ PhoneNumberId: "+12065550103", Name: "front desk" }),
  );
  assert.equal(renamed.PhoneNumber.Name, "front desk");
  await client.send(new voice.DeletePhoneNumberCommand({ PhoneNumberId: "+12065550104" }));
  const queued = await client.send(new voice.GetPhoneNumberCommand({ PhoneNumberId: "+12065550104" }));
  assert.equal(queued.PhoneNumber.Status, "DeleteInProgress");
  assertTimestamp(queued.PhoneNumber.DeletionTimestamp);
  const restored = await client.send(new voice.RestorePhoneNumberCommand({ PhoneNumberId: "+12065550104" }));
  assert.equal(restored.PhoneNumber.Status, "Unassigned");
  await rejectsWith(
    client.send(new voice.RestorePhoneNumberCommand({ PhoneNumberId: "+12065550104" })),
    voice.BadRequestException,
    400,
  );
});

test("new numbers: searched with the paginator, ordered, and the order read and listed", async () => {
  const found = await pages(voice.paginateSearchAvailablePhoneNumbers({ client, pageSize: 40 }, { AreaCode: "415" }));
  const available = found.flatMap((page) => page.E164PhoneNumbers);
  assert.equal(found.length, 3, "a hundred numbers, forty a page");
  assert.equal(available.length, 100);
  assert.ok(available.every((number) => number.startsWith("+1415")));

  const { PhoneNumberOrder } = await client.send(
    new voice.CreatePhoneNumberOrderCommand({
      ProductType: "SipMediaApplicationDialIn",
      E164PhoneNumbers: available.slice(0, 2),
    }),
  );
  assert.equal(PhoneNumberOrder.Status, "Processing");
  assertTimestamp(PhoneNumberOrder.CreatedTimestamp);
  const { PhoneNumberOrderId } = PhoneNumberOrder;
  await control("clock", { advance: 5 });
  const done = await client.send(new voice.GetPhoneNumberOrderCommand({ PhoneNumberOrderId }));
  assert.equal(done.PhoneNumberOrder.Status, "Successful");
  assert.deepEqual(
    done.PhoneNumberOrder.OrderedPhoneNumbers.map((ordered) => ordered.Status),
    ["Acquired", "Acquired"],
  );
  const orders = await pages(voice.paginateListPhoneNumberOrders({ client, pageSize: 1 }, {}));
  assert.ok(
    orders.flatMap((page) => page.PhoneNumberOrders).some((order) => order.PhoneNumberOrderId === PhoneNumberOrderId),
  );
  const acquired = await client.send(new voice.GetPhoneNumberCommand({ PhoneNumberId: available[0] }));
  assert.equal(acquired.PhoneNumber.Status, "Unassigned");
});

test("an outbound call invokes the SMA's handler, and an update reaches it", async () => {
  const handler = await quietHandler();
  try {
    await control("voice/endpoints", { lambdaArn: LAMBDA, url: handler.url });
    const { SipMediaApplicationId } = await newSma();
    const { SipMediaApplicationCall } = await client.send(
      new voice.CreateSipMediaApplicationCallCommand({
        FromPhoneNumber: "+12065550102",
        ToPhoneNumber: "+14155550123",
        SipMediaApplicationId,
        ArgumentsMap: { caller: "js" },
      }),
    );
    const { TransactionId } = SipMediaApplicationCall;
    assert.match(TransactionId, /^[0-9a-f-]{36}$/);
    await eventually(() => handler.events.length >= 2, "NEW_OUTBOUND_CALL and RINGING");
    assert.deepEqual(
      handler.events.map((event) => event.InvocationEventType),
      ["NEW_OUTBOUND_CALL", "RINGING"],
    );
    assert.equal(handler.events[0].CallDetails.TransactionId, TransactionId);
    assert.deepEqual(handler.events[0].ActionData.Parameters.Arguments, { caller: "js" });

    const updated = await client.send(
      new voice.UpdateSipMediaApplicationCallCommand({
        SipMediaApplicationId,
        TransactionId,
        Arguments: { step: "2" },
      }),
    );
    assert.equal(updated.SipMediaApplicationCall.TransactionId, TransactionId);
    await eventually(() => handler.events.length >= 3, "CALL_UPDATE_REQUESTED");
    assert.equal(handler.events[2].InvocationEventType, "CALL_UPDATE_REQUESTED");
    assert.deepEqual(handler.events[2].ActionData.Parameters.Arguments, { step: "2" });

    await rejectsWith(
      client.send(
        new voice.UpdateSipMediaApplicationCallCommand({
          SipMediaApplicationId,
          TransactionId: MISSING,
          Arguments: {},
        }),
      ),
      voice.NotFoundException,
      404,
    );
    await rejectsWith(
      client.send(
        new voice.CreateSipMediaApplicationCallCommand({
          FromPhoneNumber: "+12065550102",
          ToPhoneNumber: "+14155550123",
          SipMediaApplicationId: MISSING,
        }),
      ),
      voice.BadRequestException,
      400,
    );
  } finally {
    handler.server.close();
  }
});

test("a missing SMA, rule, number or order is NotFoundException (404), bad input BadRequestException", async () => {
  const notFound = voice.NotFoundException;
  const send = (command) => client.send(command);
  await rejectsWith(send(new voice.GetSipMediaApplicationCommand({ SipMediaApplicationId: MISSING })), notFound, 404);
  await rejectsWith(
    send(new voice.UpdateSipMediaApplicationCommand({ SipMediaApplicationId: MISSING, Name: "x" })),
    notFound,
    404,
  );
  await rejectsWith(
    send(new voice.DeleteSipMediaApplicationCommand({ SipMediaApplicationId: MISSING })),
    notFound,
    404,
  );
  await rejectsWith(send(new voice.GetSipRuleCommand({ SipRuleId: MISSING })), notFound, 404);
  await rejectsWith(send(new voice.UpdateSipRuleCommand({ SipRuleId: MISSING, Name: "x" })), notFound, 404);
  await rejectsWith(send(new voice.DeleteSipRuleCommand({ SipRuleId: MISSING })), notFound, 404);
  await rejectsWith(send(new voice.GetPhoneNumberCommand({ PhoneNumberId: UNKNOWN_NUMBER })), notFound, 404);
  await rejectsWith(
    send(new voice.UpdatePhoneNumberCommand({ PhoneNumberId: UNKNOWN_NUMBER, Name: "x" })),
    notFound,
    404,
  );
  await rejectsWith(send(new voice.DeletePhoneNumberCommand({ PhoneNumberId: UNKNOWN_NUMBER })), notFound, 404);
  await rejectsWith(send(new voice.RestorePhoneNumberCommand({ PhoneNumberId: UNKNOWN_NUMBER })), notFound, 404);
  await rejectsWith(send(new voice.GetPhoneNumberOrderCommand({ PhoneNumberOrderId: MISSING })), notFound, 404);

  const bad = voice.BadRequestException;
  await rejectsWith(
    send(
      new voice.CreatePhoneNumberOrderCommand({ ProductType: "SipMediaApplicationDialIn", E164PhoneNumbers: ["12"] }),
    ),
    bad,
    400,
  );
  await rejectsWith(send(new voice.SearchAvailablePhoneNumbersCommand({ City: "Seattle" })), bad, 400);
  for (const List of [
    voice.ListPhoneNumbersCommand,
    voice.ListPhoneNumberOrdersCommand,
    voice.ListSipMediaApplicationsCommand,
    voice.ListSipRulesCommand,
  ]) {
    await rejectsWith(send(new List({ NextToken: "not-a-token" })), bad, 400);
  }
  await rejectsWith(
    send(
      new voice.CreateSipRuleCommand({
        Name: unique("js-rule"),
        TriggerType: "ToPhoneNumber",
        TriggerValue: UNKNOWN_NUMBER,
        TargetApplications: targets(MISSING),
      }),
    ),
    bad,
    400,
  );
  await rejectsWith(
    send(new voice.CreateSipMediaApplicationCommand({ AwsRegion: "us-east-1", Name: "", Endpoints: [] })),
    bad,
    400,
  );
});

test("tags given to an SMA at creation are read back, added and removed; an unknown ARN is NotFound", async () => {
  const sma = await newSma({ Tags: [{ Key: "team", Value: "js" }] });
  const ResourceARN = sma.SipMediaApplicationArn;
  const listed = await client.send(new voice.ListTagsForResourceCommand({ ResourceARN }));
  assert.deepEqual(listed.Tags, [{ Key: "team", Value: "js" }]);
  await client.send(new voice.TagResourceCommand({ ResourceARN, Tags: [{ Key: "added", Value: "1" }] }));
  await client.send(new voice.UntagResourceCommand({ ResourceARN, TagKeys: ["team"] }));
  const after = await client.send(new voice.ListTagsForResourceCommand({ ResourceARN }));
  assert.deepEqual(after.Tags, [{ Key: "added", Value: "1" }]);
  await client.send(new voice.DeleteSipMediaApplicationCommand({ SipMediaApplicationId: sma.SipMediaApplicationId }));
  const gone = ResourceARN;
  const notFound = voice.NotFoundException;
  await rejectsWith(client.send(new voice.ListTagsForResourceCommand({ ResourceARN: gone })), notFound, 404);
  await rejectsWith(
    client.send(new voice.TagResourceCommand({ ResourceARN: gone, Tags: [{ Key: "k", Value: "v" }] })),
    notFound,
    404,
  );
  await rejectsWith(client.send(new voice.UntagResourceCommand({ ResourceARN: gone, TagKeys: ["k"] })), notFound, 404);
});

test("an SMA's logging configuration is written and read back; an unknown SMA is NotFound", async () => {
  const { SipMediaApplicationId } = await newSma();
  const written = await client.send(
    new voice.PutSipMediaApplicationLoggingConfigurationCommand({
      SipMediaApplicationId,
      SipMediaApplicationLoggingConfiguration: { EnableSipMediaApplicationMessageLogs: true },
    }),
  );
  assert.equal(written.SipMediaApplicationLoggingConfiguration.EnableSipMediaApplicationMessageLogs, true);
  const read = await client.send(new voice.GetSipMediaApplicationLoggingConfigurationCommand({ SipMediaApplicationId }));
  assert.equal(read.SipMediaApplicationLoggingConfiguration.EnableSipMediaApplicationMessageLogs, true);
  await client.send(new voice.DeleteSipMediaApplicationCommand({ SipMediaApplicationId }));
  const notFound = voice.NotFoundException;
  await rejectsWith(
    client.send(new voice.GetSipMediaApplicationLoggingConfigurationCommand({ SipMediaApplicationId })),
    notFound,
    404,
  );
  await rejectsWith(
    client.send(
      new voice.PutSipMediaApplicationLoggingConfigurationCommand({
        SipMediaApplicationId,
        SipMediaApplicationLoggingConfiguration: { EnableSipMediaApplicationMessageLogs: false },
      }),
    ),
    notFound,
    404,
  );
});
