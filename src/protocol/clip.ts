// Names a client sent, put into strings the broker composes (error messages, generated member ids), are clipped:
// a client may send a group id, member id or regex of up to 32767 bytes, and a message or id built around one
// would then exceed the 32767 bytes any Kafka string may take, and fail to encode (found by `npm run fuzz`:
// ConsumerGroupDescribe for a 32767-byte group id answered "Group <id> not found." and its encoder threw).

/** Characters of a client's name kept in a message or a generated id. */
export const kClippedNameLength = 255

/** `name`, or its first kClippedNameLength characters and an ellipsis. Never splits a surrogate pair. */
export function clipName (name: string): string {
  if (name.length <= kClippedNameLength) return name
  let end = kClippedNameLength
  const code = name.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end--
  return `${name.slice(0, end)}…`
}
