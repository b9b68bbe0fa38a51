// What every file of the JavaScript conformance suite shares: SDK clients aimed at the sandbox, its control API, and
// the assertions on a documented error. sandbox/tests/test_js_sdk.py starts the sandbox and runs this suite.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";

export const ENDPOINT = process.env.SANDBOX_ENDPOINT;
export const REGION = "us-east-1";
export const ACCOUNT = "123456789012";
const EXERCISED = process.env.SANDBOX_JS_EXERCISED;

if (!ENDPOINT) {
  throw new Error("SANDBOX_ENDPOINT is not set: run this suite through sandbox/tests/test_js_sdk.py");
}

/** Note what the sandbox answered to one operation: "ok" or the error's name. The pytest side holds every operation
 * the sandbox simulates to one "ok" and one modelled error at least. */
function record(service, commandName, outcome) {
  if (EXERCISED) {
    appendFileSync(EXERCISED, `${service}\t${commandName.replace(/Command$/, "")}\t${outcome}\n`);
  }
}

/** Throw when any timestamp in an operation's output is one the SDK could not parse (an Invalid Date), wherever
 * it is nested: a timestamp format the model does not name reads as that, not as an error. */
function invalidTimestamps(value, where) {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new Error(`${where}: a timestamp the SDK could not parse`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => invalidTimestamps(item, `${where}[${index}]`));
  } else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array) && !value.pipe) {
    for (const [key, item] of Object.entries(value)) {
      invalidTimestamps(item, `${where}.${key}`);
    }
  }
}

/** A client of `Client` for the sandbox's `service` (its name in sandbox/src/rtc_sandbox/app.py), with one attempt per call:
 * a retried request would hide the first answer. */
export function sandboxClient(Client, service, config = {}) {
  const client = new Client({
    endpoint: ENDPOINT,
    region: REGION,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    maxAttempts: 1,
    ...config,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        const result = await next(args);
        invalidTimestamps(result.output, context.commandName);
        record(service, context.commandName, "ok");
        return result;
      } catch (error) {
        if (error.$metadata?.httpStatusCode) {
          record(service, context.commandName, error.name);
        }
        throw error;
      }
    },
    { step: "initialize", name: "recordExercisedOperation" },
  );
  return client;
}

/** POST to the sandbox's control API (/_sandbox/...); its JSON answer. */
export async function control(path, body = {}) {
  const response = await fetch(`${ENDPOINT}/_sandbox/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  assert.equal(response.status, 200, `${path}: ${JSON.stringify(answer)}`);
  return answer;
}

/** A name no other test uses, so the files can share one sandbox. */
export function unique(prefix) {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** `promise` fails with the client's modelled `ErrorClass` (not the SDK's generic ServiceException), its HTTP status
 * `status`, a message and a request id. */
export async function rejectsWith(promise, ErrorClass, status) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.name, ErrorClass.name, `${error.name}: ${error.message}`);
    assert.ok(error instanceof ErrorClass, `${error.name} is not the SDK's modelled ${ErrorClass.name}`);
    assert.equal(error.$metadata.httpStatusCode, status);
    assert.ok(error.message, "the error has a message");
    assert.equal(error.$fault, status >= 500 ? "server" : "client");
    assert.ok(error.$metadata.requestId, "the error has a request id");
    // The members an error shape models, where it models them: IVS's exceptionMessage, the Chime SDK's Code,
    // Message and RequestId (the same id as the x-amzn-RequestId header).
    if ("exceptionMessage" in error) {
      assert.equal(error.exceptionMessage, error.message);
    }
    if ("RequestId" in error) {
      assert.equal(error.RequestId, error.$metadata.requestId);
    }
    if ("Code" in error) {
      assert.ok(error.Code, "the error's Code is set");
    }
    if ("Message" in error) {
      assert.equal(error.Message, error.message);
    }
    return true;
  });
}

/** `value` is a timestamp the SDK parsed: a Date that holds a time (an unparsable one is an Invalid Date). */
export function assertTimestamp(value, what = "the timestamp") {
  assert.ok(value instanceof Date, `${what} is a Date: ${value}`);
  assert.ok(!Number.isNaN(value.getTime()), `${what} is a valid time`);
  assert.ok(
    value.getUTCFullYear() >= 2020 && value.getUTCFullYear() < 9000,
    `${what} is a plausible time: ${value.toISOString()}`,
  );
}

/** Every page a paginator yields. */
export async function pages(paginator) {
  const all = [];
  for await (const page of paginator) {
    all.push(page);
  }
  return all;
}
