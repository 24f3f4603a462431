// Java `.properties` syntax (java.util.Properties.load), as Kafka's server.properties is written:
// - an entry is `key=value`, `key: value` or `key value`; the key ends at the first unescaped `=`, `:` or blank,
//   and blanks around the separator are skipped;
// - a line whose first non-blank character is `#` or `!` is a comment; blank lines are skipped;
// - a line ending in an odd number of backslashes continues on the next line, whose leading blanks are dropped
//   (a comment line never continues; a continuation line is never a comment);
// - escapes: \t \n \r \f, \uXXXX, and a backslash before any other character stands for that character
//   (`\=`, `\:`, `\ `, `\#`, `\\`).
// Two departures from Java, both to turn mistakes into errors rather than values: trailing blanks of a value are
// dropped unless escaped (`true ` would otherwise not be a boolean), and a malformed \u escape or an entry with
// no key is an error naming the file and line. Duplicate keys are the caller's to refuse (it knows aliases).
import { ConfigError } from './config-error.ts'

export interface Property {
  readonly key: string
  readonly value: string
  /** 1-based line the entry starts on (its first line when continued), for error messages. */
  readonly line: number
}

/** Java's whitespace in properties files: space, tab, form feed. */
function isBlank (c: string): boolean {
  return c === ' ' || c === '\t' || c === '\f'
}

function skipBlanks (text: string, from: number): number {
  while (from < text.length && isBlank(text[from])) from++
  return from
}

function endsInOddBackslashes (text: string): boolean {
  let count = 0
  for (let i = text.length - 1; i >= 0 && text[i] === '\\'; i--) count++
  return count % 2 === 1
}

/**
 * Resolves escapes. `escapedTo` is the length of the result up to and including its last escaped character, so
 * that trimming trailing blanks can spare an escaped one.
 */
function unescape (raw: string, where: string): { text: string, escapedTo: number } {
  let text = ''
  let escapedTo = 0
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (c !== '\\') {
      text += c
      continue
    }
    const next = raw[++i] ?? ''
    switch (next) {
      case 't': text += '\t'; break
      case 'n': text += '\n'; break
      case 'r': text += '\r'; break
      case 'f': text += '\f'; break
      case 'u': {
        const hex = raw.slice(i + 1, i + 5)
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ConfigError(`${where}: malformed \\uXXXX escape "\\u${hex}"`)
        text += String.fromCharCode(parseInt(hex, 16))
        i += 4
        break
      }
      default: text += next
    }
    escapedTo = text.length
  }
  return { text, escapedTo }
}

function parseEntry (logical: string, fileName: string, line: number): Property {
  const where = `${fileName}:${line}`
  let keyEnd = 0
  while (keyEnd < logical.length) {
    const c = logical[keyEnd]
    if (c === '\\') keyEnd += 2
    else if (c === '=' || c === ':' || isBlank(c)) break
    else keyEnd++
  }
  keyEnd = Math.min(keyEnd, logical.length)
  let valueStart = skipBlanks(logical, keyEnd)
  if (valueStart < logical.length && (logical[valueStart] === '=' || logical[valueStart] === ':')) valueStart = skipBlanks(logical, valueStart + 1)
  const key = unescape(logical.slice(0, keyEnd), where).text
  if (key === '') throw new ConfigError(`${where}: an entry with no property name`)
  const value = unescape(logical.slice(valueStart), where)
  const trimmed = value.text.slice(0, value.escapedTo) + value.text.slice(value.escapedTo).replace(/[ \t\f]+$/, '')
  return { key, value: trimmed, line }
}

/** The entries of a properties file in file order; `fileName` prefixes every error (`FILE:LINE: ...`). */
export function parseProperties (text: string, fileName: string): Property[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)
  const entries: Property[] = []
  let next = 0
  while (next < lines.length) {
    const line = next + 1
    const first = lines[next++]
    const start = skipBlanks(first, 0)
    if (start === first.length || first[start] === '#' || first[start] === '!') continue
    let logical = first.slice(start)
    while (endsInOddBackslashes(logical)) {
      logical = logical.slice(0, -1)
      // Java drops a backslash that ends the file.
      if (next === lines.length) break
      const continued = lines[next++]
      logical += continued.slice(skipBlanks(continued, 0))
    }
    entries.push(parseEntry(logical, fileName, line))
  }
  return entries
}
