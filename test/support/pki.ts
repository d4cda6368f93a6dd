/**
 * A throwaway PKI for TLS tests, made in the test with WebCrypto and `@peculiar/x509`: a CA, a
 * server certificate for localhost / 127.0.0.1 / ::1 signed by it, and a client certificate for
 * mTLS. Every PEM is fresh per call, so nothing secret is checked in.
 */
import "reflect-metadata"
import * as x509 from "@peculiar/x509"
import { webcrypto } from "node:crypto"

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

export interface Pki {
  readonly ca: string
  readonly server: { readonly cert: string; readonly key: string }
  readonly client: { readonly cert: string; readonly key: string }
}

const pemKey = async (key: CryptoKey) =>
  x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key as webcrypto.CryptoKey), "PRIVATE KEY")

const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString("hex").replace(/^[89a-f]/, "1")

const validity = () => {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000)
  return { notBefore, notAfter: new Date(notBefore.getTime() + 2 * 24 * 60 * 60 * 1000) }
}

const issue = async (
  ca: { readonly cert: x509.X509Certificate; readonly keys: CryptoKeyPair },
  subject: string,
  extensions: ReadonlyArray<x509.Extension>
) => {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]) as CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.cert.subject,
    ...validity(),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
      ...extensions
    ]
  })
  return { cert: cert.toString("pem"), key: await pemKey(keys.privateKey) }
}

export const makePki = async (): Promise<Pki> => {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]) as CryptoKeyPair
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=servo-webhooks test CA",
    ...validity(),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)
    ]
  })
  const ca = { cert: caCert, keys }
  const server = await issue(ca, "CN=localhost", [
    new x509.SubjectAlternativeNameExtension([
      { type: "dns", value: "localhost" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "::1" }
    ]),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)
  ])
  const client = await issue(ca, "CN=servo-webhooks test client", [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)
  ])
  return { ca: caCert.toString("pem"), server, client }
}
