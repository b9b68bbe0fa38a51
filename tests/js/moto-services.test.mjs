// The services the sandbox hands to moto, as the portal uses them: S3 (capture buckets, with the SDK's waiters),
// SQS and SNS (meeting notifications) and STS (whose account this is).
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import * as s3 from "@aws-sdk/client-s3";
import * as sns from "@aws-sdk/client-sns";
import * as sqs from "@aws-sdk/client-sqs";
import * as sts from "@aws-sdk/client-sts";
import { ACCOUNT, pages, rejectsWith, sandboxClient, unique } from "./sandbox.mjs";

const WAIT = { maxWaitTime: 10, minDelay: 1, maxDelay: 1 };

test("S3: a bucket and its objects, with the bucket and object waiters and paginateListObjectsV2", async () => {
  const client = sandboxClient(s3.S3Client, "s3", { forcePathStyle: true });
  const Bucket = unique("js-bucket");
  await client.send(new s3.CreateBucketCommand({ Bucket }));
  const exists = await s3.waitUntilBucketExists({ client, ...WAIT }, { Bucket });
  assert.equal(exists.state, "SUCCESS");
  for (const Key of ["a/1.txt", "a/2.txt", "b/3.txt"]) {
    await client.send(new s3.PutObjectCommand({ Bucket, Key, Body: `body of ${Key}`, ContentType: "text/plain" }));
  }
  assert.equal((await s3.waitUntilObjectExists({ client, ...WAIT }, { Bucket, Key: "b/3.txt" })).state, "SUCCESS");
  const walked = await pages(s3.paginateListObjectsV2({ client, pageSize: 1 }, { Bucket, Prefix: "a/" }));
  assert.deepEqual(
    walked.flatMap((page) => (page.Contents ?? []).map((object) => object.Key)),
    ["a/1.txt", "a/2.txt"],
  );
  const object = await client.send(new s3.GetObjectCommand({ Bucket, Key: "a/2.txt" }));
  assert.equal(await object.Body.transformToString(), "body of a/2.txt");
  assert.equal(object.ContentType, "text/plain");
  // A stream body goes as aws-chunked, the SDK's default CRC32 in a trailer after the last chunk.
  const chunks = [Buffer.from("part 1, "), Buffer.from("part 2")];
  const streamed = await client.send(
    new s3.PutObjectCommand({ Bucket, Key: "b/stream.bin", Body: Readable.from(chunks), ContentLength: 14 }),
  );
  assert.ok(streamed.ChecksumCRC32, "S3 answers the trailer's checksum");
  const read = await client.send(new s3.GetObjectCommand({ Bucket, Key: "b/stream.bin", ChecksumMode: "ENABLED" }));
  assert.equal(await read.Body.transformToString(), "part 1, part 2");
  assert.equal(read.ChecksumCRC32, streamed.ChecksumCRC32);
  await rejectsWith(client.send(new s3.GetObjectCommand({ Bucket, Key: "missing" })), s3.NoSuchKey, 404);
  await rejectsWith(client.send(new s3.ListObjectsV2Command({ Bucket: unique("js-no-bucket") })), s3.NoSuchBucket, 404);

  await client.send(
    new s3.DeleteObjectsCommand({
      Bucket,
      Delete: { Objects: ["a/1.txt", "a/2.txt", "b/3.txt", "b/stream.bin"].map((Key) => ({ Key })) },
    }),
  );
  assert.equal((await s3.waitUntilObjectNotExists({ client, ...WAIT }, { Bucket, Key: "a/1.txt" })).state, "SUCCESS");
  await client.send(new s3.DeleteBucketCommand({ Bucket }));
  assert.equal((await s3.waitUntilBucketNotExists({ client, ...WAIT }, { Bucket })).state, "SUCCESS");
});

test("SQS: a queue is created, found with paginateListQueues, sent to, received from and deleted", async () => {
  const client = sandboxClient(sqs.SQSClient, "sqs");
  const QueueName = unique("js-queue");
  const { QueueUrl } = await client.send(new sqs.CreateQueueCommand({ QueueName }));
  assert.ok(QueueUrl.endsWith(`/${ACCOUNT}/${QueueName}`), QueueUrl);
  const walked = await pages(sqs.paginateListQueues({ client, pageSize: 1 }, { QueueNamePrefix: QueueName }));
  assert.deepEqual(
    walked.flatMap((page) => page.QueueUrls ?? []),
    [QueueUrl],
  );
  await client.send(new sqs.SendMessageCommand({ QueueUrl, MessageBody: '{"detail-type":"js"}' }));
  const { Messages } = await client.send(new sqs.ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
  assert.equal(Messages.length, 1);
  assert.equal(Messages[0].Body, '{"detail-type":"js"}');
  await client.send(new sqs.DeleteMessageCommand({ QueueUrl, ReceiptHandle: Messages[0].ReceiptHandle }));
  await client.send(new sqs.DeleteQueueCommand({ QueueUrl }));
  await rejectsWith(
    client.send(new sqs.GetQueueUrlCommand({ QueueName: unique("js-no-queue") })),
    sqs.QueueDoesNotExist,
    400,
  );
});

test("SNS: a topic is created, found with paginateListTopics, published to and deleted", async () => {
  const client = sandboxClient(sns.SNSClient, "sns");
  const Name = unique("js-topic");
  const { TopicArn } = await client.send(new sns.CreateTopicCommand({ Name }));
  assert.equal(TopicArn, `arn:aws:sns:us-east-1:${ACCOUNT}:${Name}`);
  const topics = (await pages(sns.paginateListTopics({ client }, {}))).flatMap((page) => page.Topics);
  assert.ok(topics.some((topic) => topic.TopicArn === TopicArn));
  const published = await client.send(new sns.PublishCommand({ TopicArn, Message: "hello" }));
  assert.ok(published.MessageId);
  await client.send(new sns.DeleteTopicCommand({ TopicArn }));
  await rejectsWith(client.send(new sns.GetTopicAttributesCommand({ TopicArn })), sns.NotFoundException, 404);
});

test("STS: GetCallerIdentity names the sandbox's account", async () => {
  const client = sandboxClient(sts.STSClient, "sts");
  const identity = await client.send(new sts.GetCallerIdentityCommand({}));
  assert.equal(identity.Account, ACCOUNT);
  assert.ok(identity.Arn.startsWith(`arn:aws:`));
});
