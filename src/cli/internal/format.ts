/** Text helpers shared by the commands: tables and counts. (URLs are redacted by `WebhookConfig.redactTarget`.) */

/** `1 webhook`, `2 webhooks`; `plural` for irregular words. */
export const count = (n: number, singular: string, plural = `${singular}s`): string => `${n} ${n === 1 ? singular : plural}`

/**
 * Columns padded to their widest cell, two spaces apart; the last column is not padded, so long
 * reasons do not leave trailing spaces. An empty header prints no header line.
 */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const all = header.length === 0 ? rows : [header, ...rows]
  const columns = Math.max(0, ...all.map((row) => row.length))
  const widths = Array.from({ length: columns }, (_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)))
  return all
    .map((row) =>
      row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column]!)).join("  ").trimEnd()
    )
    .join("\n")
}

/** A number the way a person reads it: no long float tails. */
export const number = (n: number): string => Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100)
