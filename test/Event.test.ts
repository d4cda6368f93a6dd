import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as CoreEvents from "../src/servo/CoreEvents.js"
import * as Event from "../src/servo/Event.js"

const parse = (input: string) => Event.parseSelector(input, CoreEvents.registry)

describe("Event selectors", () => {
  it.each([
    ["before:measure", "before", "measure", "before:measure"],
    ["on:measure", "on", "measure", "measure"],
    ["measure", "on", "measure", "measure"],
    ["after:measure", "after", "measure", "after:measure"],
    ["after:*", "after", "*", "after:*"],
    ["before:adjust", "before", "adjust", "before:adjust"]
  ])("%s parses to %s %s and prints %s", (input, preposition, event, printed) => {
    const selector = Either.getOrThrow(parse(input))
    expect(selector).toEqual({ preposition, event })
    expect(Event.formatSelector(selector)).toBe(printed)
  })

  it.each([
    ["invalid:adjust", /unknown preposition "invalid"; expected before, on or after$/],
    ["before:invalid", /unknown event "invalid"; known events: adjust, check, components, describe, measure, metrics, promote, shutdown, startup/],
    ["BEFORE:adjust", /unknown preposition "BEFORE".*did you mean "before"\?/],
    ["before:MEASURE", /unknown event "MEASURE" \(event names are lower case: did you mean "measure"\?\); known events: adjust/],
    ["", /it is empty; expected EVENT or PREPOSITION:EVENT/],
    ["nothing", /unknown event "nothing"; known events: adjust, check/],
    ["before:", /no event after "before:"/],
    ["before:measure:now", /expected one colon/]
  ])("%j is refused: %s", (input, reason) => {
    const result = parse(input)
    expect(Either.isLeft(result)).toBe(true)
    const error = Either.getLeft(result).pipe(Option.getOrThrow)
    expect(error._tag).toBe("InvalidEventSelector")
    expect(error.input).toBe(input)
    expect(error.reason).toMatch(reason)
    expect(error.message).toContain(JSON.stringify(input))
  })

  it("matches wildcards and exact names, never across prepositions", () => {
    expect(Event.matches({ preposition: "after", event: "*" }, "after", "adjust")).toBe(true)
    expect(Event.matches({ preposition: "after", event: "*" }, "before", "adjust")).toBe(false)
    expect(Event.matches({ preposition: "before", event: "measure" }, "before", "measure")).toBe(true)
    expect(Event.matches({ preposition: "before", event: "measure" }, "before", "adjust")).toBe(false)
  })
})

describe("Event.make", () => {
  it("refuses names that are not lower-case identifiers", () => {
    const define = (name: string) => () =>
      Event.make({ name, description: "", parameters: Event.NoParameters, result: Event.NoResult })
    expect(define("Measure")).toThrow(/must match/)
    expect(define("before:measure")).toThrow(/must match/)
    expect(define("check_health")).not.toThrow()
  })

  it("refuses two different events with one name in a registry", () => {
    const twin = Event.make({ name: "measure", description: "", parameters: Event.NoParameters, result: Event.NoResult })
    expect(() => Event.registry([...CoreEvents.all, twin])).toThrow(/two different events are named "measure"/)
    expect(Event.registry([...CoreEvents.all, CoreEvents.measure]).names).toEqual(CoreEvents.registry.names)
  })

  it("exposes every core event's example parameters and result", () => {
    for (const event of CoreEvents.all) {
      expect(Option.isSome(Event.exampleParameters(event)), event.name).toBe(true)
      expect(Option.isSome(Event.exampleResult(event)), event.name).toBe(true)
    }
    expect(Option.getOrThrow(Event.exampleParameters(CoreEvents.adjust)).adjustments[0]).toEqual({
      component: "web",
      setting: "replicas",
      value: 3
    })
  })
})
