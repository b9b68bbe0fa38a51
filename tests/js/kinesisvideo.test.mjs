// Kinesis Video Streams signaling channels through @aws-sdk/client-kinesis-video, and their TURN servers through
// @aws-sdk/client-kinesis-video-signaling.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as kvs from "@aws-sdk/client-kinesis-video";
import * as signaling from "@aws-sdk/client-kinesis-video-signaling";
import { ACCOUNT, assertTimestamp, control, pages, rejectsWith, sandboxClient, unique } from "./sandbox.mjs";

const client = sandboxClient(kvs.KinesisVideoClient, "kinesisvideo");
const signalingClient = sandboxClient(signaling.KinesisVideoSignalingClient, "kinesis-video-signaling");
const MISSING = `arn:aws:kinesisvideo:us-east-1:${ACCOUNT}:channel/missing/1700000000000`;

/** A new channel, ACTIVE: the sandbox's clock is moved past its CREATING state. */
async function activeChannel(ChannelName, extra = {}) {
  const { ChannelARN } = await client.send(new kvs.CreateSignalingChannelCommand({ ChannelName, ...extra }));
  await control("clock", { advance: 3 });
  const { ChannelInfo } = await client.send(new kvs.DescribeSignalingChannelCommand({ ChannelARN }));
  assert.equal(ChannelInfo.ChannelStatus, "ACTIVE");
  return ChannelInfo;
}

test("a channel is created, described by ARN and by name, updated, tagged and deleted", async () => {
  const name = unique("js-channel");
  const { ChannelARN } = await client.send(
    new kvs.CreateSignalingChannelCommand({
      ChannelName: name,
      SingleMasterConfiguration: { MessageTtlSeconds: 45 },
      Tags: [{ Key: "team", Value: "js" }],
    }),
  );
  assert.match(ChannelARN, new RegExp(`^arn:aws:kinesisvideo:us-east-1:${ACCOUNT}:channel/${name}/\\d{13}$`));
  const creating = await client.send(new kvs.DescribeSignalingChannelCommand({ ChannelARN }));
  assert.equal(creating.ChannelInfo.ChannelStatus, "CREATING");
  await control("clock", { advance: 3 });
  const byName = await client.send(new kvs.DescribeSignalingChannelCommand({ ChannelName: name }));
  assert.equal(byName.ChannelInfo.ChannelARN, ChannelARN);
  assert.equal(byName.ChannelInfo.ChannelStatus, "ACTIVE");
  assert.equal(byName.ChannelInfo.ChannelType, "SINGLE_MASTER");
  assert.equal(byName.ChannelInfo.SingleMasterConfiguration.MessageTtlSeconds, 45);
  assertTimestamp(byName.ChannelInfo.CreationTime);

  await client.send(
    new kvs.UpdateSignalingChannelCommand({
      ChannelARN,
      CurrentVersion: byName.ChannelInfo.Version,
      SingleMasterConfiguration: { MessageTtlSeconds: 30 },
    }),
  );
  const updating = await client.send(new kvs.DescribeSignalingChannelCommand({ ChannelARN }));
  assert.equal(updating.ChannelInfo.ChannelStatus, "UPDATING");
  assert.notEqual(updating.ChannelInfo.Version, byName.ChannelInfo.Version);
  assert.equal(updating.ChannelInfo.SingleMasterConfiguration.MessageTtlSeconds, 30);
  await control("clock", { advance: 3 });

  await client.send(new kvs.TagResourceCommand({ ResourceARN: ChannelARN, Tags: [{ Key: "added", Value: "1" }] }));
  await client.send(new kvs.UntagResourceCommand({ ResourceARN: ChannelARN, TagKeyList: ["team"] }));
  const tags = await client.send(new kvs.ListTagsForResourceCommand({ ResourceARN: ChannelARN }));
  assert.deepEqual(tags.Tags, { added: "1" });

  await client.send(
    new kvs.DeleteSignalingChannelCommand({ ChannelARN, CurrentVersion: updating.ChannelInfo.Version }),
  );
  const deleting = await client.send(new kvs.DescribeSignalingChannelCommand({ ChannelARN }));
  assert.equal(deleting.ChannelInfo.ChannelStatus, "DELETING");
  await control("clock", { advance: 3 });
  await rejectsWith(
    client.send(new kvs.DescribeSignalingChannelCommand({ ChannelARN })),
    kvs.ResourceNotFoundException,
    404,
  );
});

test("paginateListSignalingChannels walks the channels a name condition selects", async () => {
  const prefix = unique("js-list");
  const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
  for (const ChannelName of names) {
    await client.send(new kvs.CreateSignalingChannelCommand({ ChannelName }));
  }
  const walked = await pages(
    kvs.paginateListSignalingChannels(
      { client, pageSize: 2 },
      { ChannelNameCondition: { ComparisonOperator: "BEGINS_WITH", ComparisonValue: prefix } },
    ),
  );
  assert.equal(walked.length, 2, "three channels, two a page");
  assert.deepEqual(
    walked.flatMap((page) => page.ChannelInfoList.map((channel) => channel.ChannelName)),
    names,
  );
});

test("an ACTIVE channel's endpoints and TURN servers", async () => {
  const channel = await activeChannel(unique("js-ice"));
  const { ResourceEndpointList } = await client.send(
    new kvs.GetSignalingChannelEndpointCommand({
      ChannelARN: channel.ChannelARN,
      SingleMasterChannelEndpointConfiguration: { Protocols: ["WSS", "HTTPS", "WEBRTC"], Role: "VIEWER" },
    }),
  );
  assert.deepEqual(
    ResourceEndpointList.map((endpoint) => endpoint.Protocol),
    ["WSS", "HTTPS", "WEBRTC"],
  );
  assert.match(ResourceEndpointList[0].ResourceEndpoint, /^wss:\/\//);
  assert.match(ResourceEndpointList[1].ResourceEndpoint, /^https:\/\//);

  const { IceServerList } = await signalingClient.send(
    new signaling.GetIceServerConfigCommand({ ChannelARN: channel.ChannelARN, ClientId: "viewer-1" }),
  );
  assert.equal(IceServerList.length, 2);
  for (const server of IceServerList) {
    assert.ok(
      server.Uris.every((uri) => /^turns?:/.test(uri)),
      server.Uris.join(" "),
    );
    assert.ok(server.Username && server.Password);
    assert.equal(server.Ttl, 300);
  }
});

test("the documented errors: a missing channel, a name in use, a stale version, a bad argument", async () => {
  const missing = kvs.ResourceNotFoundException;
  const send = (command) => client.send(command);
  await rejectsWith(send(new kvs.DescribeSignalingChannelCommand({ ChannelARN: MISSING })), missing, 404);
  await rejectsWith(
    send(new kvs.UpdateSignalingChannelCommand({ ChannelARN: MISSING, CurrentVersion: "1" })),
    missing,
    404,
  );
  await rejectsWith(send(new kvs.DeleteSignalingChannelCommand({ ChannelARN: MISSING })), missing, 404);
  await rejectsWith(send(new kvs.GetSignalingChannelEndpointCommand({ ChannelARN: MISSING })), missing, 404);
  await rejectsWith(
    send(new kvs.TagResourceCommand({ ResourceARN: MISSING, Tags: [{ Key: "k", Value: "v" }] })),
    missing,
    404,
  );
  await rejectsWith(send(new kvs.UntagResourceCommand({ ResourceARN: MISSING, TagKeyList: ["k"] })), missing, 404);
  await rejectsWith(send(new kvs.ListTagsForResourceCommand({ ResourceARN: MISSING })), missing, 404);
  await rejectsWith(
    signalingClient.send(new signaling.GetIceServerConfigCommand({ ChannelARN: MISSING })),
    signaling.ResourceNotFoundException,
    404,
  );

  const channel = await activeChannel(unique("js-conflict"));
  await rejectsWith(
    send(new kvs.CreateSignalingChannelCommand({ ChannelName: channel.ChannelName })),
    kvs.ResourceInUseException,
    400,
  );
  await rejectsWith(
    send(new kvs.UpdateSignalingChannelCommand({ ChannelARN: channel.ChannelARN, CurrentVersion: "stale" })),
    kvs.VersionMismatchException,
    400,
  );
  await rejectsWith(
    send(new kvs.CreateSignalingChannelCommand({ ChannelName: "not a valid name!" })),
    kvs.InvalidArgumentException,
    400,
  );
  await rejectsWith(
    send(new kvs.ListSignalingChannelsCommand({ NextToken: "not-a-token" })),
    kvs.InvalidArgumentException,
    400,
  );
  await rejectsWith(
    signalingClient.send(new signaling.GetIceServerConfigCommand({ ChannelARN: "not-an-arn" })),
    signaling.InvalidArgumentException,
    400,
  );
});
