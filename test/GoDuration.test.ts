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

  describe("bounded by Go's largest duration, 2562047h47m16.854775807s (about 292 years)", () => {
    const huge = "1" + "0".repeat(400) + "h"
    it.each([
      ["1 and 400 zeros, h (Infinity as a number)", huge],
      ["2562048h", "2562048h"],
      ["2562047h47m17s", "2562047h47m17s"],
      ["9223372036854776us", "9223372036854776us"],
      ["1 and 30 zeros, h", "1" + "0".repeat(30) + "h"],
      ["300 × 10000h (each fine, the sum too large)", "10000h".repeat(300)]
    ])("refuses %s with one line that does not repeat all of it", (_, input) => {
      const result = GoDuration.parse(input)
      expect(Either.isLeft(result)).toBe(true)
      const message = Either.getLeft(result).pipe((o) => o._tag === "Some" ? o.value : "")
      expect(message).toMatch(/^expected a duration of at most 2562047h47m16\.854775807s \(about 292 years\), got "/)
      expect(message).not.toContain("\n")
      expect(message.length).toBeLessThan(160)
    })

    it.each(["2562047h", "2562047h47m16s", "2562047h47m16.854s"])("accepts %s", (input) => {
      expect(Either.isRight(GoDuration.parse(input))).toBe(true)
    })

    it("exceedsMax tells a duration too long from one unreadable", () => {
      expect(GoDuration.exceedsMax(huge)).toBe(true)
      expect(GoDuration.exceedsMax("2562048h")).toBe(true)
      expect(GoDuration.exceedsMax("2562047h")).toBe(false)
      expect(GoDuration.exceedsMax("soon")).toBe(false)
    })

    it("never decodes to an infinite Duration, through the Schema either", () => {
      expect(() => Schema.decodeUnknownSync(GoDuration.GoDuration)(huge)).toThrow(/at most 2562047h47m16\.854775807s/)
    })

    it("an unreadable input is not repeated whole either", () => {
      const message = Either.getLeft(GoDuration.parse("x".repeat(10_000))).pipe((o) => o._tag === "Some" ? o.value : "")
      expect(message).toMatch(/^expected a duration such as 500ms/)
      expect(message.length).toBeLessThan(200)
    })
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
