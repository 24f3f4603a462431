// Test certificates, made with `openssl` in a temp dir (never checked in): a CA, server certificates for
// 127.0.0.1/localhost signed by it, and client certificates with given subjects. EC P-256 keys: fast to make.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const kOpenssl = process.env.OPENSSL ?? 'openssl'

export interface TestCertificates {
  readonly dir: string
  /** PEM of the CA certificate (the broker's truststore, and what clients trust). */
  readonly caFile: string
  readonly ca: Buffer
  /** Chain and key in one file (Kafka's PEM keystore), and the same as two files. */
  readonly serverChainAndKeyFile: string
  readonly serverCertificateFile: string
  readonly serverKeyFile: string
  /** A new server certificate (another serial, subject CN=`cn`), signed by the same CA, as cert+key files. */
  issueServer (name: string, cn: string): { certificateFile: string, keyFile: string }
  /** A client certificate signed by the CA (`subject` in openssl's `/O=x/CN=y` form), or by a CA of its own. */
  issueClient (name: string, subject: string, untrusted?: boolean): { certificateFile: string, keyFile: string, certificate: Buffer, key: Buffer }
  remove (): void
}

function openssl (args: string[], cwd: string): void {
  execFileSync(kOpenssl, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

function newKey (dir: string, file: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir)
}

function selfSigned (dir: string, name: string, subject: string): void {
  newKey(dir, `${name}.key`)
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
}

function signed (dir: string, name: string, subject: string, ca: string, extensions: string): void {
  newKey(dir, `${name}.key`)
  openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir)
  writeFileSync(join(dir, `${name}.ext`), extensions)
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir)
}

export function makeTestCertificates (): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-tls-'))
  selfSigned(dir, 'ca', '/CN=Shoal Test CA')
  const issueServer = (name: string, cn: string): { certificateFile: string, keyFile: string } => {
    signed(dir, name, `/CN=${cn}`, 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
    return { certificateFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) }
  }
  const server = issueServer('server', 'localhost')
  const chainAndKey = join(dir, 'server-chain-and-key.pem')
  writeFileSync(chainAndKey, Buffer.concat([readFileSync(server.certificateFile), readFileSync(server.keyFile)]))
  let otherCa = false
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    ca: readFileSync(join(dir, 'ca.pem')),
    serverChainAndKeyFile: chainAndKey,
    serverCertificateFile: server.certificateFile,
    serverKeyFile: server.keyFile,
    issueServer,
    issueClient (name, subject, untrusted = false) {
      if (untrusted && !otherCa) {
        selfSigned(dir, 'other-ca', '/CN=Untrusted CA')
        otherCa = true
      }
      signed(dir, name, subject, untrusted ? 'other-ca' : 'ca', 'extendedKeyUsage=clientAuth\n')
      const certificateFile = join(dir, `${name}.pem`)
      const keyFile = join(dir, `${name}.key`)
      return { certificateFile, keyFile, certificate: readFileSync(certificateFile), key: readFileSync(keyFile) }
    },
    remove () {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
