import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic, writeFileDurable } from '../../src/log/files.ts'
import { temporaryDirectory } from './helpers.ts'

for (const [name, write] of [['writeFileAtomic', writeFileAtomic], ['writeFileDurable', writeFileDurable]] as const) {
  test(`${name} replaces a file whole and leaves no temporary file`, t => {
    const directory = temporaryDirectory(t)
    const path = join(directory, 'state')
    write(path, 'first')
    write(path, Buffer.from('second'))
    assert.equal(readFileSync(path, 'utf8'), 'second')
    assert.deepEqual(readdirSync(directory), ['state'])
  })

  test(`${name} that cannot write leaves the old contents and no temporary file`, t => {
    const directory = temporaryDirectory(t)
    const path = join(directory, 'state')
    write(path, 'kept')
    // A directory where the temporary file would go makes the write fail.
    mkdirSync(`${path}.tmp`)
    assert.throws(() => write(path, 'lost'))
    assert.equal(readFileSync(path, 'utf8'), 'kept')
    assert.ok(existsSync(`${path}.tmp`), 'a directory in the way is not removed')
  })
}
