// Amazon Chime SDK meetings through @aws-sdk/client-chime-sdk-meetings: meetings, attendees, capabilities,
// transcription and tags.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import * as chime from "@aws-sdk/client-chime-sdk-meetings";
import { ACCOUNT, control, pages, rejectsWith, sandboxClient } from "./sandbox.mjs";

const client = sandboxClient(chime.ChimeSDKMeetingsClient, "chime-sdk-meetings");
const MISSING = "00000000-0000-4000-8000-000000000000";
const MISSING_ARN = `arn:aws:chime:us-east-1:${ACCOUNT}:meeting/${MISSING}`;
const CAPABILITIES = { Audio: "SendReceive", Video: "Receive", Content: "None" };

async function newMeeting(extra = {}) {
  const made = await client.send(
    new chime.CreateMeetingCommand({ MediaRegion: "us-east-1", ExternalMeetingId: "js-conformance", ...extra }),
  );
  return made.Meeting;
}

test("a meeting is created (the SDK fills in its ClientRequestToken), read, tagged and deleted", async () => {
  const meeting = await newMeeting({ Tags: [{ Key: "team", Value: "js" }] });
  assert.match(meeting.MeetingId, /^[0-9a-f-]{36}$/);
  assert.equal(meeting.MeetingArn, `arn:aws:chime:us-east-1:${ACCOUNT}:meeting/${meeting.MeetingId}`);
  assert.equal(meeting.MediaRegion, "us-east-1");
  assert.ok(meeting.MediaPlacement.AudioHostUrl && meeting.MediaPlacement.SignalingUrl);
  const got = await client.send(new chime.GetMeetingCommand({ MeetingId: meeting.MeetingId }));
  assert.equal(got.Meeting.MeetingId, meeting.MeetingId);
  assert.equal(got.Meeting.ExternalMeetingId, "js-conformance");

  const ResourceARN = meeting.MeetingArn;
  await client.send(new chime.TagResourceCommand({ ResourceARN, Tags: [{ Key: "added", Value: "1" }] }));
  await client.send(new chime.UntagResourceCommand({ ResourceARN, TagKeys: ["team"] }));
  const tags = await client.send(new chime.ListTagsForResourceCommand({ ResourceARN }));
  assert.deepEqual(tags.Tags, [{ Key: "added", Value: "1" }]);

  await client.send(new chime.DeleteMeetingCommand({ MeetingId: meeting.MeetingId }));
  await rejectsWith(
    client.send(new chime.GetMeetingCommand({ MeetingId: meeting.MeetingId })),
    chime.NotFoundException,
    404,
  );
});

test("a ClientRequestToken used again answers the meeting it made, and an ExternalUserId its attendee", async () => {
  const ClientRequestToken = randomUUID();
  const first = await newMeeting({ ClientRequestToken });
  const again = await newMeeting({ ClientRequestToken });
  assert.equal(again.MeetingId, first.MeetingId);
  const attendee = await client.send(
    new chime.CreateAttendeeCommand({ MeetingId: first.MeetingId, ExternalUserId: "same-person" }),
  );
  const repeated = await client.send(
    new chime.CreateAttendeeCommand({ MeetingId: first.MeetingId, ExternalUserId: "same-person" }),
  );
  assert.equal(repeated.Attendee.AttendeeId, attendee.Attendee.AttendeeId);
  await client.send(new chime.DeleteMeetingCommand({ MeetingId: first.MeetingId }));
});

test("attendees: made one by one and in batches, paged with paginateListAttendees, updated and deleted", async () => {
  const made = await client.send(
    new chime.CreateMeetingWithAttendeesCommand({
      MediaRegion: "us-east-1",
      ExternalMeetingId: "js-with-attendees",
      Attendees: [{ ExternalUserId: "a-1" }, { ExternalUserId: "a-2", Capabilities: CAPABILITIES }],
    }),
  );
  const MeetingId = made.Meeting.MeetingId;
  assert.deepEqual(
    made.Attendees.map((attendee) => attendee.ExternalUserId),
    ["a-1", "a-2"],
  );
  assert.deepEqual(made.Attendees[1].Capabilities, CAPABILITIES);
  assert.equal(made.Errors, undefined);

  const one = await client.send(new chime.CreateAttendeeCommand({ MeetingId, ExternalUserId: "a-3" }));
  assert.ok(one.Attendee.JoinToken);
  await control("meetings/join", { joinToken: one.Attendee.JoinToken });
  const batch = await client.send(
    new chime.BatchCreateAttendeeCommand({
      MeetingId,
      Attendees: [{ ExternalUserId: "a-4" }, { ExternalUserId: "a-5" }],
    }),
  );
  assert.equal(batch.Attendees.length, 2);

  const walked = await pages(chime.paginateListAttendees({ client, pageSize: 2 }, { MeetingId }));
  assert.equal(walked.length, 3, "five attendees, two a page");
  const everyone = walked.flatMap((page) => page.Attendees);
  assert.deepEqual(everyone.map((attendee) => attendee.ExternalUserId).sort(), ["a-1", "a-2", "a-3", "a-4", "a-5"]);

  const AttendeeId = one.Attendee.AttendeeId;
  const got = await client.send(new chime.GetAttendeeCommand({ MeetingId, AttendeeId }));
  assert.equal(got.Attendee.ExternalUserId, "a-3");
  const updated = await client.send(
    new chime.UpdateAttendeeCapabilitiesCommand({ MeetingId, AttendeeId, Capabilities: CAPABILITIES }),
  );
  assert.deepEqual(updated.Attendee.Capabilities, CAPABILITIES);
  const receiveOnly = { Audio: "Receive", Video: "Receive", Content: "Receive" };
  await client.send(
    new chime.BatchUpdateAttendeeCapabilitiesExceptCommand({
      MeetingId,
      ExcludedAttendeeIds: [{ AttendeeId }],
      Capabilities: receiveOnly,
    }),
  );
  const others = (await client.send(new chime.ListAttendeesCommand({ MeetingId }))).Attendees;
  for (const attendee of others) {
    assert.deepEqual(attendee.Capabilities, attendee.AttendeeId === AttendeeId ? CAPABILITIES : receiveOnly);
  }

  await client.send(new chime.DeleteAttendeeCommand({ MeetingId, AttendeeId }));
  await rejectsWith(client.send(new chime.GetAttendeeCommand({ MeetingId, AttendeeId })), chime.NotFoundException, 404);
  await client.send(new chime.DeleteMeetingCommand({ MeetingId }));
});

test("transcription starts and stops; stopping it twice is UnprocessableEntityException (422)", async () => {
  const { MeetingId } = await newMeeting();
  const TranscriptionConfiguration = { EngineTranscribeSettings: { LanguageCode: "en-US" } };
  await client.send(new chime.StartMeetingTranscriptionCommand({ MeetingId, TranscriptionConfiguration }));
  await client.send(new chime.StopMeetingTranscriptionCommand({ MeetingId }));
  await rejectsWith(
    client.send(new chime.StopMeetingTranscriptionCommand({ MeetingId })),
    chime.UnprocessableEntityException,
    422,
  );
  await client.send(new chime.DeleteMeetingCommand({ MeetingId }));
});

test("a missing meeting or attendee is NotFoundException (404), a missing ARN ResourceNotFoundException", async () => {
  const { MeetingId } = await newMeeting();
  const notFound = chime.NotFoundException;
  const send = (command) => client.send(command);
  await rejectsWith(send(new chime.GetMeetingCommand({ MeetingId: MISSING })), notFound, 404);
  await rejectsWith(send(new chime.DeleteMeetingCommand({ MeetingId: MISSING })), notFound, 404);
  await rejectsWith(
    send(new chime.CreateAttendeeCommand({ MeetingId: MISSING, ExternalUserId: "js-x" })),
    notFound,
    404,
  );
  await rejectsWith(
    send(new chime.BatchCreateAttendeeCommand({ MeetingId: MISSING, Attendees: [{ ExternalUserId: "js-x" }] })),
    notFound,
    404,
  );
  await rejectsWith(send(new chime.GetAttendeeCommand({ MeetingId, AttendeeId: MISSING })), notFound, 404);
  await rejectsWith(send(new chime.ListAttendeesCommand({ MeetingId: MISSING })), notFound, 404);
  await rejectsWith(send(new chime.DeleteAttendeeCommand({ MeetingId, AttendeeId: MISSING })), notFound, 404);
  await rejectsWith(
    send(new chime.UpdateAttendeeCapabilitiesCommand({ MeetingId, AttendeeId: MISSING, Capabilities: CAPABILITIES })),
    notFound,
    404,
  );
  await rejectsWith(
    send(
      new chime.BatchUpdateAttendeeCapabilitiesExceptCommand({
        MeetingId: MISSING,
        ExcludedAttendeeIds: [{ AttendeeId: MISSING }],
        Capabilities: CAPABILITIES,
      }),
    ),
    notFound,
    404,
  );
  const TranscriptionConfiguration = { EngineTranscribeSettings: { LanguageCode: "en-US" } };
  await rejectsWith(
    send(new chime.StartMeetingTranscriptionCommand({ MeetingId: MISSING, TranscriptionConfiguration })),
    notFound,
    404,
  );
  await rejectsWith(send(new chime.StopMeetingTranscriptionCommand({ MeetingId: MISSING })), notFound, 404);
  const gone = chime.ResourceNotFoundException;
  await rejectsWith(send(new chime.TagResourceCommand({ ResourceARN: MISSING_ARN, Tags: [] })), gone, 404);
  await rejectsWith(send(new chime.UntagResourceCommand({ ResourceARN: MISSING_ARN, TagKeys: ["k"] })), gone, 404);
  await rejectsWith(send(new chime.ListTagsForResourceCommand({ ResourceARN: MISSING_ARN })), gone, 404);
  await client.send(new chime.DeleteMeetingCommand({ MeetingId }));
});

test("input the model or the service forbids is BadRequestException (400)", async () => {
  const bad = chime.BadRequestException;
  await rejectsWith(
    client.send(new chime.CreateMeetingCommand({ MediaRegion: "mars-1", ExternalMeetingId: "js" })),
    bad,
    400,
  );
  await rejectsWith(client.send(new chime.CreateMeetingCommand({ MediaRegion: "us-east-1" })), bad, 400);
  await rejectsWith(
    client.send(
      new chime.CreateMeetingWithAttendeesCommand({
        MediaRegion: "mars-1",
        ExternalMeetingId: "js",
        Attendees: [{ ExternalUserId: "js-a" }],
      }),
    ),
    bad,
    400,
  );
  const { MeetingId } = await newMeeting();
  await rejectsWith(
    client.send(
      new chime.CreateAttendeeCommand({
        MeetingId,
        ExternalUserId: "content-without-video",
        Capabilities: { Audio: "SendReceive", Video: "None", Content: "SendReceive" },
      }),
    ),
    bad,
    400,
  );
  await rejectsWith(client.send(new chime.ListAttendeesCommand({ MeetingId, NextToken: "not-a-token" })), bad, 400);
  await client.send(new chime.DeleteMeetingCommand({ MeetingId }));
});
