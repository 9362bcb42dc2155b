// Package trigger recognizes the raw event an FC 3.0 function receives
// and decodes it into one typed Event: an HTTP trigger event, a direct
// invoke whose payload is a request, an OSS trigger event, an EventBridge
// delivery (CloudEvents 1.0), or a timer event. It also turns an HTTP
// trigger event into a real *http.Request and a net/http handler's
// response into the FC response object (ServeEvent), so the same
// handlers serve local mode and the FC HTTP trigger.
//
// # Recognition
//
// Decode is strict and never guesses. The raw bytes must be one JSON
// value of valid UTF-8, without a byte order mark, at most MaxDepth deep,
// within the size limit, and no object may hold a key twice (compared
// case-insensitively, because encoding/json matches struct fields that
// way and would let a second "Command" silently replace "command").
// Then:
//
//   - a list is an EventBridge delivery: each item a CloudEvent object, or
//     a string holding one (checked like a raw event);
//   - an object is told by its marker members. HTTP: requestContext or
//     rawPath. OSS: events. CloudEvent: specversion. Timer: triggerTime or
//     triggerName. Direct invoke: the request members clusterId, command,
//     workingDir, timeout, instanceIds, wait, dryRun. An object must carry
//     the markers of exactly one kind; markers of two kinds make it
//     ambiguous, and an object with none is not recognized.
//   - OSS and timer events may have only their documented top-level
//     members (an HTTP event's other top-level members are ignored: FC
//     writes that envelope); a request may have only the request members; CloudEvents
//     may add extension attributes (lower-case letters and digits), none of
//     which may be another kind's marker. Inside platform events, unknown
//     members are ignored (FC and OSS add some) but known ones must have
//     their type: a number where a string belongs, 1e400 as a size, a
//     malformed time, all fail.
//   - A CloudEvent from acs.oss must carry one OSS record as data. Data of
//     any other event that has a request member must be exactly a request
//     (DataRequest); other data is DataOther, which only a route can turn
//     into a command.
//   - A timer's payload must be a request (the JSON of one, as a string).
//
// Everything refused is a *hpcgate.Error with code InvalidEvent and
// status 400 (413 over the size limit); DecodePayload, for request bodies
// of the HTTP API, answers InvalidRequest instead. Messages name the
// member and never echo more than a short excerpt of the input.
//
// # HTTP trigger
//
// Request builds a server-side request: method from requestContext.http,
// path from rawPath (escapes kept), query from queryParameters (values FC
// joined with "," stay joined), headers under canonical names, the body
// base64-decoded when isBase64Encoded, RemoteAddr "sourceIp:0". TLS is
// never set: the event does not carry the scheme (FC endpoints answer
// both) and X-Forwarded-Proto is a header the caller can write, so no
// header ever makes a request count as secure.
//
// # OSS object keys
//
// OSS event records carry object.key as the object's name, not
// URL-encoded, and this package keeps it exactly as delivered: it
// decodes it neither once nor twice. Evidence:
//
//   - FC handlers written for OSS triggers pass the key straight to the
//     OSS SDK, which URL-encodes keys itself, so an encoded key would be
//     encoded twice and not be found: a Go OSS-unzip function built on
//     github.com/awesome-fc/golang-runtime calls
//     bucket.GetObjectToFile(event.Oss.Object.Key, ...); the Node.js
//     image-resize sample (source/ -> processed/, the scenario of FC's
//     "Configure a native OSS trigger") calls
//     client.get(ossEvent.oss.object.key); PHP and Python variants do the
//     same with evt['oss']['object']['key']. None of them decodes.
//   - No OSS, EventBridge or FC document found says the key is encoded;
//     their samples show plain names ("image/a.jpg", "input/file.csv").
//     Encoding is what Amazon S3 and Huawei OBS document for their own
//     notifications; the only FC handler seen that decodes
//     (decodeURIComponent) is in a guide for moving Lambda code to FC.
//   - fc-runtime-go-sdk v0.3.1 events.OssEvent takes the key as is.
//
// This is not confirmed on a deployed trigger with a key holding spaces
// or non-ASCII characters; doing so is a cheap check before production.
// If that ever proves wrong the failure is safe: an encoded key reaches
// the command as its literal text (a name with %XX that does not exist),
// whereas decoding a literal key that contains "%" would hand the command
// the name of a different object. A key fails its record (not the whole
// event) when CheckObjectKey refuses it: empty, over 1023 bytes, not
// valid UTF-8, U+FFFD, a control or invisible format character (NUL
// included), a leading "/" or "\", or a "." or ".." path segment.
//
// # EventBridge deliveries
//
// Whether a default-bus rule delivers one CloudEvent or a list is not
// documented; Decode accepts a single object, a list of objects and a
// list of JSON-encoded strings (the form FC's Go SDK shows for batched
// event-streaming delivery). RawData delivery (data without the
// CloudEvents envelope) is not recognized. Decoding says what an event
// is, not whether it may be believed: whoever may invoke the function
// may send any event, so which kinds a deployment takes and what each
// may speak for is the ingress package's to decide.
package trigger
