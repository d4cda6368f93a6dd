import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as GoDuration from "../src/servo/GoDuration.js"

describe("GoDuration", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["5m", 300_000],
    ["2h45m", 9_900_000],
    ["1.5h", 5_400_000],
    ["1m30s", 90_000],
    ["250us", 0.25],
    ["0", 0]
  ])("%s is %d ms", (input, millis) => {
    expect(Duration.toMillis(Either.getOrThrow(GoDuration.parse(input)))).toBeCloseTo(millis, 9)
  })

  it.each(["", "5", "5 m", "-5m", "5M", "m5", "1h 2m", "ten seconds", "5d"])("refuses %j", (input) => {
    const result = GoDuration.parse(input)
    expect(Either.isLeft(result)).toBe(true)
    expect(Either.getLeft(result).pipe((o) => o._tag === "Some" ? o.value : "")).toMatch(/expected a duration/)
  })

  it.each([
    [Duration.minutes(165), "2h45m"],
    [Duration.millis(500), "500ms"],
    [Duration.seconds(90), "1m30s"],
    [Duration.zero, "0"],
    [Duration.millis(300.5), "300ms500us"]
  ])("formats %s as %s", (duration, text) => {
    expect(GoDuration.format(duration)).toBe(text)
    expect(Duration.toMillis(Either.getOrThrow(GoDuration.parse(text)))).toBeCloseTo(Duration.toMillis(duration), 9)
  })

  it("round-trips through the Schema", () => {
    const decoded = Schema.decodeUnknownSync(GoDuration.GoDuration)("2h45m")
    expect(Duration.toMinutes(decoded)).toBe(165)
    expect(Schema.encodeSync(GoDuration.GoDuration)(decoded)).toBe("2h45m")
    expect(() => Schema.decodeUnknownSync(GoDuration.GoDuration)("soon")).toThrow(/expected a duration such as 500ms/)
  })
})
