// Amazon Chime SDK media pipelines through @aws-sdk/client-chime-sdk-media-pipelines: capture and concatenation
// pipelines of a meeting into an S3 bucket, and their tags.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import * as pipelines from "@aws-sdk/client-chime-sdk-media-pipelines";
import * as chime from "@aws-sdk/client-chime-sdk-meetings";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { ACCOUNT, assertTimestamp, control, pages, rejectsWith, sandboxClient, unique } from "./sandbox.mjs";

const client = sandboxClient(pipelines.ChimeSDKMediaPipelinesClient, "chime-sdk-media-pipelines");
const meetings = sandboxClient(chime.ChimeSDKMeetingsClient, "chime-sdk-meetings");
const s3 = sandboxClient(S3Client, "s3", { forcePathStyle: true });
const MISSING = "00000000-0000-4000-8000-000000000000";
const MISSING_ARN = `arn:aws:chime:us-east-1:${ACCOUNT}:media-pipeline/${MISSING}`;
const CONCATENATED = {
  Audio: { State: "Enabled" },
  ...Object.fromEntries(
    ["Video", "Content", "DataChannel", "TranscriptionMessages", "MeetingEvents", "CompositedVideo"].map((name) => [
      name,
      { State: "Disabled" },
    ]),
  ),
};

/** A meeting with a connected attendee, and a bucket to capture it into. */
async function meetingAndBucket() {
  const { Meeting } = await meetings.send(
    new chime.CreateMeetingCommand({ MediaRegion: "us-east-1", ExternalMeetingId: "js-capture" }),
  );
  const { Attendee } = await meetings.send(
    new chime.CreateAttendeeCommand({ MeetingId: Meeting.MeetingId, ExternalUserId: "speaker" }),
  );
  await control("meetings/join", { joinToken: Attendee.JoinToken });
  const bucket = unique("js-capture");
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    SourceArn: `arn:aws:chime::${ACCOUNT}:meeting:${Meeting.MeetingId}`,
    SinkArn: `arn:aws:s3:::${bucket}`,
  };
}

function capture(target, extra = {}) {
  return new pipelines.CreateMediaCapturePipelineCommand({
    SourceType: "ChimeSdkMeeting",
    SinkType: "S3Bucket",
    ...target,
    ...extra,
  });
}

test("a capture pipeline is created, read both ways, tagged, concatenated and deleted", async () => {
  const target = await meetingAndBucket();
  const { MediaCapturePipeline: made } = await client.send(
    capture(target, {
      Tags: [{ Key: "team", Value: "js" }],
      ChimeSdkMeetingConfiguration: {
        ArtifactsConfiguration: {
          Audio: { MuxType: "AudioOnly" },
          Video: { State: "Enabled", MuxType: "VideoOnly" },
          Content: { State: "Disabled" },
        },
      },
    }),
  );
  assert.match(made.MediaPipelineId, /^[0-9a-f-]{36}$/);
  assert.equal(made.MediaPipelineArn, `arn:aws:chime:us-east-1:${ACCOUNT}:media-pipeline/${made.MediaPipelineId}`);
  assert.equal(made.SourceArn, target.SourceArn);
  assert.equal(made.SinkArn, target.SinkArn);
  assertTimestamp(made.CreatedTimestamp);
  assert.equal(made.ChimeSdkMeetingConfiguration.ArtifactsConfiguration.Video.MuxType, "VideoOnly");
  const MediaPipelineId = made.MediaPipelineId;

  const got = await client.send(new pipelines.GetMediaCapturePipelineCommand({ MediaPipelineId }));
  assert.equal(got.MediaCapturePipeline.MediaPipelineArn, made.MediaPipelineArn);
  const general = await client.send(new pipelines.GetMediaPipelineCommand({ MediaPipelineId }));
  assert.equal(general.MediaPipeline.MediaCapturePipeline.MediaPipelineId, MediaPipelineId);

  const ResourceARN = made.MediaPipelineArn;
  await client.send(new pipelines.TagResourceCommand({ ResourceARN, Tags: [{ Key: "added", Value: "1" }] }));
  await client.send(new pipelines.UntagResourceCommand({ ResourceARN, TagKeys: ["team"] }));
  const tags = await client.send(new pipelines.ListTagsForResourceCommand({ ResourceARN }));
  assert.deepEqual(tags.Tags, [{ Key: "added", Value: "1" }]);

  const { MediaConcatenationPipeline: concatenation } = await client.send(
    new pipelines.CreateMediaConcatenationPipelineCommand({
      Sources: [
        {
          Type: "MediaCapturePipeline",
          MediaCapturePipelineSourceConfiguration: {
            MediaPipelineArn: made.MediaPipelineArn,
            ChimeSdkMeetingConfiguration: { ArtifactsConfiguration: CONCATENATED },
          },
        },
      ],
      Sinks: [{ Type: "S3Bucket", S3BucketSinkConfiguration: { Destination: target.SinkArn } }],
    }),
  );
  assert.ok(concatenation.MediaPipelineId && concatenation.Status);
  const concatenated = await client.send(
    new pipelines.GetMediaPipelineCommand({ MediaPipelineId: concatenation.MediaPipelineId }),
  );
  assert.equal(concatenated.MediaPipeline.MediaConcatenationPipeline.MediaPipelineArn, concatenation.MediaPipelineArn);
  assertTimestamp(concatenated.MediaPipeline.MediaConcatenationPipeline.CreatedTimestamp);

  await client.send(new pipelines.DeleteMediaCapturePipelineCommand({ MediaPipelineId }));
  await client.send(new pipelines.DeleteMediaPipelineCommand({ MediaPipelineId: concatenation.MediaPipelineId }));
});

test("a ClientRequestToken used again answers the pipeline it made; a second capture is refused", async () => {
  const target = await meetingAndBucket();
  const ClientRequestToken = randomUUID();
  const first = await client.send(capture(target, { ClientRequestToken }));
  const again = await client.send(capture(target, { ClientRequestToken }));
  assert.equal(again.MediaCapturePipeline.MediaPipelineId, first.MediaCapturePipeline.MediaPipelineId);
  await rejectsWith(client.send(capture(target)), pipelines.ResourceLimitExceededException, 400);
  await client.send(
    new pipelines.DeleteMediaPipelineCommand({ MediaPipelineId: first.MediaCapturePipeline.MediaPipelineId }),
  );
});

test("paginateListMediaCapturePipelines and paginateListMediaPipelines walk every pipeline", async () => {
  const made = [];
  for (let index = 0; index < 3; index += 1) {
    const { MediaCapturePipeline } = await client.send(capture(await meetingAndBucket()));
    made.push(MediaCapturePipeline.MediaPipelineArn);
  }
  const captures = await pages(pipelines.paginateListMediaCapturePipelines({ client, pageSize: 1 }, {}));
  assert.ok(captures.length >= 3);
  const captured = captures.flatMap((page) => page.MediaCapturePipelines.map((pipeline) => pipeline.MediaPipelineArn));
  const every = await pages(pipelines.paginateListMediaPipelines({ client, pageSize: 2 }, {}));
  const listed = every.flatMap((page) => page.MediaPipelines.map((pipeline) => pipeline.MediaPipelineArn));
  for (const arn of made) {
    assert.ok(captured.includes(arn), `${arn} is among the capture pipelines`);
    assert.ok(listed.includes(arn), `${arn} is among the media pipelines`);
  }
  assert.equal(new Set(listed).size, listed.length, "no pipeline is listed twice");
});

test("a missing pipeline is NotFoundException (404), a bad source BadRequestException", async () => {
  const notFound = pipelines.NotFoundException;
  const send = (command) => client.send(command);
  await rejectsWith(send(new pipelines.GetMediaCapturePipelineCommand({ MediaPipelineId: MISSING })), notFound, 404);
  await rejectsWith(send(new pipelines.GetMediaPipelineCommand({ MediaPipelineId: MISSING })), notFound, 404);
  await rejectsWith(send(new pipelines.DeleteMediaCapturePipelineCommand({ MediaPipelineId: MISSING })), notFound, 404);
  await rejectsWith(send(new pipelines.DeleteMediaPipelineCommand({ MediaPipelineId: MISSING })), notFound, 404);
  await rejectsWith(
    send(new pipelines.TagResourceCommand({ ResourceARN: MISSING_ARN, Tags: [{ Key: "k", Value: "v" }] })),
    notFound,
    404,
  );
  await rejectsWith(
    send(new pipelines.UntagResourceCommand({ ResourceARN: MISSING_ARN, TagKeys: ["k"] })),
    notFound,
    404,
  );
  await rejectsWith(send(new pipelines.ListTagsForResourceCommand({ ResourceARN: MISSING_ARN })), notFound, 404);

  const bad = pipelines.BadRequestException;
  const target = await meetingAndBucket();
  await rejectsWith(send(capture({ ...target, SourceArn: `arn:aws:chime::${ACCOUNT}:meeting:${MISSING}` })), bad, 400);
  await rejectsWith(send(capture({ ...target, SinkArn: `arn:aws:s3:::${unique("js-no-bucket")}` })), bad, 400);
  await rejectsWith(send(capture({ ...target, SinkType: "Kinesis" })), bad, 400);
  await rejectsWith(send(new pipelines.ListMediaPipelinesCommand({ NextToken: "not-a-token" })), bad, 400);
  await rejectsWith(send(new pipelines.ListMediaCapturePipelinesCommand({ NextToken: "not-a-token" })), bad, 400);
  await rejectsWith(
    send(
      new pipelines.CreateMediaConcatenationPipelineCommand({
        Sources: [
          {
            Type: "MediaCapturePipeline",
            MediaCapturePipelineSourceConfiguration: {
              MediaPipelineArn: MISSING_ARN,
              ChimeSdkMeetingConfiguration: { ArtifactsConfiguration: CONCATENATED },
            },
          },
        ],
        Sinks: [{ Type: "S3Bucket", S3BucketSinkConfiguration: { Destination: target.SinkArn } }],
      }),
    ),
    bad,
    400,
  );
});
