import { it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { issuesOf } from "../src/internal/issues.js"
const SecretRef = Schema.Union(
  Schema.String,
  Schema.Struct({ env: Schema.String }),
  Schema.Struct({ file: Schema.String })
).annotations({ message: () => "expected a secret: a string, { env: VAR } or { file: PATH }" })
const S = Schema.Struct({ token: SecretRef, n: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { exact: true }) , t: Schema.propertySignature(Schema.String).annotations({ missingMessage: () => "is missing: expected an http(s) URL" }) })
it("x", () => {
  for (const input of [{ token: 123456789, n: -1 }, { token: { env: 1 }, n: 1.5 }, { token: { env: "X", extra: 1 } }, {token: "abc", n: "x", t: 1}]) {
    const r = Schema.decodeUnknownEither(S, { errors: "all", onExcessProperty: "error" })(input)
    if (r._tag === "Left") console.log(JSON.stringify(issuesOf(r.left)))
  }
})
