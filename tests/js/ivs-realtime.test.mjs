// Amazon IVS Real-Time through @aws-sdk/client-ivs-realtime: stages, tokens, sessions, participants and their events.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as ivs from "@aws-sdk/client-ivs-realtime";
import { ACCOUNT, assertTimestamp, control, pages, rejectsWith, sandboxClient, unique } from "./sandbox.mjs";

const client = sandboxClient(ivs.IVSRealTimeClient, "ivs-realtime");
const MISSING_STAGE = `arn:aws:ivs:us-east-1:${ACCOUNT}:stage/AAAAAAAAAAAA`;
const STAGE_ARN = new RegExp(`^arn:aws:ivs:us-east-1:${ACCOUNT}:stage/[A-Za-z0-9]{12}$`);

test("a stage is created with a token, read, renamed, tagged and deleted", async () => {
  const name = unique("js-stage");
  const created = await client.send(
    new ivs.CreateStageCommand({
      name,
      tags: { team: "js" },
      participantTokenConfigurations: [
        { userId: "host-1", duration: 60, capabilities: ["PUBLISH", "SUBSCRIBE"], attributes: { role: "host" } },
      ],
    }),
  );
  assert.match(created.stage.arn, STAGE_ARN);
  assert.equal(created.stage.name, name);
  assert.deepEqual(created.stage.tags, { team: "js" });
  const [token] = created.participantTokens;
  assert.equal(token.userId, "host-1");
  assert.equal(token.duration, 60);
  assert.deepEqual(token.capabilities, ["PUBLISH", "SUBSCRIBE"]);
  assert.deepEqual(token.attributes, { role: "host" });
  assertTimestamp(token.expirationTime);
  assert.ok(token.expirationTime.getTime() > Date.now() - 60_000);
  assert.ok(token.token && token.participantId);
  const arn = created.stage.arn;

  const got = await client.send(new ivs.GetStageCommand({ arn }));
  assert.equal(got.stage.name, name);
  const updated = await client.send(new ivs.UpdateStageCommand({ arn, name: `${name}-renamed` }));
  assert.equal(updated.stage.name, `${name}-renamed`);

  // Tag keys go in the query string of UntagResource (?tagKeys=a&tagKeys=b), percent-encoded UTF-8.
  await client.send(new ivs.TagResourceCommand({ resourceArn: arn, tags: { added: "1", "café key": "naïve" } }));
  await client.send(new ivs.UntagResourceCommand({ resourceArn: arn, tagKeys: ["team", "café key"] }));
  const tags = await client.send(new ivs.ListTagsForResourceCommand({ resourceArn: arn }));
  assert.deepEqual(tags.tags, { added: "1" });

  const deleted = await client.send(new ivs.DeleteStageCommand({ arn }));
  assert.equal(deleted.$metadata.httpStatusCode, 200);
  await rejectsWith(client.send(new ivs.GetStageCommand({ arn })), ivs.ResourceNotFoundException, 404);
});

test("paginateListStages walks every stage one page at a time", async () => {
  const prefix = unique("js-paged");
  const arns = [];
  for (let index = 0; index < 3; index += 1) {
    const created = await client.send(new ivs.CreateStageCommand({ name: `${prefix}-${index}` }));
    arns.push(created.stage.arn);
  }
  const walked = await pages(ivs.paginateListStages({ client, pageSize: 1 }, {}));
  assert.ok(walked.length >= 3);
  for (const page of walked) {
    assert.ok(page.stages.length <= 1);
  }
  const seen = walked.flatMap((page) => page.stages);
  for (const arn of arns) {
    const summary = seen.find((stage) => stage.arn === arn);
    assert.ok(summary, `${arn} is listed`);
    assert.ok(summary.name.startsWith(prefix));
  }
  assert.equal(new Set(seen.map((stage) => stage.arn)).size, seen.length, "no stage is listed twice");
  assert.equal(walked.at(-1).nextToken, undefined);
});

test("a session, its participant and their events, with each paginator", async () => {
  const created = await client.send(
    new ivs.CreateStageCommand({ name: unique("js-live"), participantTokenConfigurations: [{ userId: "u-1" }] }),
  );
  const stageArn = created.stage.arn;
  const joined = await control("stages/join", { token: created.participantTokens[0].token, publish: true });
  const { sessionId, participantId } = joined;
  const second = await client.send(
    new ivs.CreateParticipantTokenCommand({ stageArn, userId: "u-2", duration: 30, attributes: { seat: "2" } }),
  );
  assert.equal(second.participantToken.userId, "u-2");
  assert.equal(second.participantToken.duration, 30);
  assert.deepEqual(second.participantToken.capabilities, ["PUBLISH", "SUBSCRIBE"]);
  await control("stages/join", { token: second.participantToken.token });

  const sessions = (await pages(ivs.paginateListStageSessions({ client, pageSize: 1 }, { stageArn }))).flatMap(
    (page) => page.stageSessions,
  );
  assert.deepEqual(
    sessions.map((session) => session.sessionId),
    [sessionId],
  );
  assertTimestamp(sessions[0].startTime);
  const session = await client.send(new ivs.GetStageSessionCommand({ stageArn, sessionId }));
  assert.equal(session.stageSession.sessionId, sessionId);
  assertTimestamp(session.stageSession.startTime);

  const listed = await pages(ivs.paginateListParticipants({ client, pageSize: 1 }, { stageArn, sessionId }));
  assert.equal(listed.length, 2, "two participants, one a page");
  const participants = listed.flatMap((page) => page.participants);
  assert.deepEqual(participants.map((participant) => participant.userId).sort(), ["u-1", "u-2"]);
  const publishing = await client.send(
    new ivs.ListParticipantsCommand({ stageArn, sessionId, filterByPublished: true }),
  );
  assert.deepEqual(
    publishing.participants.map((participant) => participant.participantId),
    [participantId],
  );

  const participant = await client.send(new ivs.GetParticipantCommand({ stageArn, sessionId, participantId }));
  assert.equal(participant.participant.state, "CONNECTED");
  assert.equal(participant.participant.published, true);
  assertTimestamp(participant.participant.firstJoinTime);

  const events = (
    await pages(ivs.paginateListParticipantEvents({ client, pageSize: 1 }, { stageArn, sessionId, participantId }))
  ).flatMap((page) => page.events);
  assert.deepEqual(
    events.map((event) => event.name),
    ["JOINED", "PUBLISH_STARTED"],
  );
  for (const event of events) {
    assertTimestamp(event.eventTime);
    assert.equal(event.participantId, participantId);
  }

  await client.send(new ivs.DisconnectParticipantCommand({ stageArn, participantId, reason: "js conformance" }));
  const after = await client.send(new ivs.GetParticipantCommand({ stageArn, sessionId, participantId }));
  assert.equal(after.participant.state, "DISCONNECTED");
  await client.send(new ivs.DeleteStageCommand({ arn: stageArn }));
});

test("a missing stage, session or participant is ResourceNotFoundException (404)", async () => {
  const stage = await client.send(new ivs.CreateStageCommand({ name: unique("js-errors") }));
  const stageArn = stage.stage.arn;
  const missing = ivs.ResourceNotFoundException;
  await rejectsWith(client.send(new ivs.GetStageCommand({ arn: MISSING_STAGE })), missing, 404);
  await rejectsWith(client.send(new ivs.UpdateStageCommand({ arn: MISSING_STAGE, name: "x" })), missing, 404);
  await rejectsWith(client.send(new ivs.DeleteStageCommand({ arn: MISSING_STAGE })), missing, 404);
  await rejectsWith(client.send(new ivs.CreateParticipantTokenCommand({ stageArn: MISSING_STAGE })), missing, 404);
  await rejectsWith(
    client.send(new ivs.DisconnectParticipantCommand({ stageArn, participantId: "nobody" })),
    missing,
    404,
  );
  await rejectsWith(
    client.send(new ivs.GetStageSessionCommand({ stageArn, sessionId: "st-AAAAAAAAAAAAA" })),
    missing,
    404,
  );
  await rejectsWith(
    client.send(new ivs.GetParticipantCommand({ stageArn, sessionId: "st-AAAAAAAAAAAAA", participantId: "nobody" })),
    missing,
    404,
  );
  await rejectsWith(
    client.send(new ivs.TagResourceCommand({ resourceArn: MISSING_STAGE, tags: { k: "v" } })),
    missing,
    404,
  );
  await rejectsWith(
    client.send(new ivs.UntagResourceCommand({ resourceArn: MISSING_STAGE, tagKeys: ["k"] })),
    missing,
    404,
  );
  await rejectsWith(client.send(new ivs.ListTagsForResourceCommand({ resourceArn: MISSING_STAGE })), missing, 404);
  await client.send(new ivs.DeleteStageCommand({ arn: stageArn }));
});

test("input the model forbids is ValidationException (400)", async () => {
  const invalid = ivs.ValidationException;
  await rejectsWith(client.send(new ivs.CreateStageCommand({ name: "not a valid name!" })), invalid, 400);
  await rejectsWith(client.send(new ivs.ListStagesCommand({ maxResults: 0 })), invalid, 400);
  await rejectsWith(client.send(new ivs.ListStagesCommand({ nextToken: "not-a-token" })), invalid, 400);
  await rejectsWith(
    client.send(new ivs.ListStageSessionsCommand({ stageArn: MISSING_STAGE, nextToken: "not-a-token" })),
    invalid,
    400,
  );
  await rejectsWith(
    client.send(
      new ivs.ListParticipantEventsCommand({
        stageArn: MISSING_STAGE,
        sessionId: "st-AAAAAAAAAAAAA",
        participantId: "nobody",
        maxResults: 0,
      }),
    ),
    invalid,
    400,
  );
  const stage = await client.send(new ivs.CreateStageCommand({ name: unique("js-invalid") }));
  await rejectsWith(
    client.send(new ivs.CreateParticipantTokenCommand({ stageArn: stage.stage.arn, duration: 20_161 })),
    invalid,
    400,
  );
  await rejectsWith(
    client.send(
      new ivs.ListParticipantsCommand({
        stageArn: stage.stage.arn,
        sessionId: "st-AAAAAAAAAAAAA",
        filterByUserId: "u-1",
        filterByPublished: true,
      }),
    ),
    invalid,
    400,
  );
  await client.send(new ivs.DeleteStageCommand({ arn: stage.stage.arn }));
});
