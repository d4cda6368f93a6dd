/**
 * What a servo.yaml may cost before it is parsed. The yaml library's composer recurses once per
 * nesting level: 100,000 nested `[` overflow the stack, and 200,000 compact `- ` exhaust the heap
 * in V8's regexp compiler (a native crash, rc 134). Its lexer does not recurse, so the nesting is
 * measured on the lexer's tokens first, and a file nested too deep is never composed.
 */
import * as YAML from "yaml"

/** The largest config, in bytes: 1 MiB, a hundred times the largest config seen in practice. */
export const maxBytes = 1024 * 1024

/** The deepest nesting (mappings, sequences, flow collections), far more than any servo needs. */
export const maxDepth = 64

/** The yaml library's guard against alias bombs (`&a [*b, *b, ...]`): nodes an alias may expand to. */
export const maxAliasCount = 100

const isControl = (token: string) => token === YAML.CST.DOCUMENT || token === YAML.CST.SCALAR || token === YAML.CST.FLOW_END

/** Where a config first nests deeper than the limit (1-based line and column). */
export interface TooDeep {
  readonly line: number
  readonly col: number
}

interface Line {
  readonly indent: number
  /** The nesting depth at the end of the line (block collections only). */
  readonly depth: number
  /** The line ends with `:`, `-` or `?`: its value is on the next lines, maybe at the same indent. */
  readonly opensValue: boolean
}

/**
 * Where `text` first nests deeper than `limit`, or `undefined`. An upper bound: block nesting is
 * read from the indentation and the indicators (`-`, `?`, `:`) of each line, which can count a
 * level too many per indentation step, never too few; flow collections are counted exactly.
 */
export const tooDeep = (text: string, limit: number = maxDepth): TooDeep | undefined => {
  const lines: Array<Line> = []
  let line = 1
  let lineStart = 0
  let offset = 0
  // Only a line break between nodes starts a line: one inside a quoted or plain scalar does not.
  let atLineStart = true
  let indent = 0
  // After `|` or `>`: the header's comment and line break, then the scalar's text.
  let blockScalar = false
  let scalarNext = false
  // The block nesting of the current line so far, and the flow nesting at this point.
  let blockDepth = 0
  let flowDepth = 0
  let lastIndicator = false
  let lineOpen = false
  let lineIndent = 0

  const closeLine = () => {
    if (lineOpen) lines.push({ indent: lineIndent, depth: blockDepth, opensValue: lastIndicator })
    lineOpen = false
  }

  for (const token of new YAML.Lexer().lex(text)) {
    const at = offset
    const type = YAML.CST.tokenType(token)
    // The lexer's control tokens (document start, scalar, flow error end) are not in the text.
    if (!isControl(token)) offset += token.length
    let breaksLine = type === "newline"
    if (scalarNext) {
      // A scalar's text: nothing in it nests. A block scalar's text ends with its last line.
      scalarNext = false
      breaksLine = blockScalar && token.endsWith("\n")
      blockScalar = false
    } else if (type === "newline" || type === "comment" || type === "byte-order-mark") {
      // Neither starts nor ends a line's content.
    } else if (type === "space") {
      if (atLineStart && flowDepth === 0) indent = token.length
    } else if (type === "doc-start" || type === "doc-end" || type === "directive-line" || type === "doc-mode") {
      closeLine()
      lines.length = 0
      blockDepth = 0
      flowDepth = 0
    } else if (type === "scalar" && blockScalar) {
      scalarNext = true
    } else {
      if (atLineStart && flowDepth === 0) {
        closeLine()
        const item = type === "seq-item-ind"
        while (lines.length > 0) {
          const top = lines[lines.length - 1]!
          // A block sequence may sit at its key's indentation (`key:` then `- item`).
          if (top.indent < indent || (top.indent === indent && top.opensValue && item)) break
          lines.pop()
        }
        blockDepth = lines.length === 0 ? 0 : lines[lines.length - 1]!.depth
        lineOpen = true
        lineIndent = indent
      }
      atLineStart = false
      lastIndicator = false
      if (type === "scalar") scalarNext = true
      else if (type === "block-scalar-header") blockScalar = true
      else if (flowDepth === 0 && (type === "seq-item-ind" || type === "explicit-key-ind" || type === "map-value-ind")) {
        blockDepth++
        lastIndicator = true
      } else if (type === "flow-seq-start" || type === "flow-map-start") flowDepth++
      else if (type === "flow-seq-end" || type === "flow-map-end") flowDepth = Math.max(0, flowDepth - 1)
      if (blockDepth + flowDepth > limit) return { line, col: at - lineStart + 1 }
    }
    for (let index = token.indexOf("\n"); index !== -1; index = token.indexOf("\n", index + 1)) {
      line++
      lineStart = at + index + 1
    }
    if (breaksLine) {
      atLineStart = true
      if (flowDepth === 0) indent = 0
    }
  }
  return undefined
}
