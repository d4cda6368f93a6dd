/**
 * Kept only for `internal/webhookConfig.ts`, which imports these from here: it should import
 * them from `./addresses.js`, and then this file goes.
 */
export { cidrContains, classify, parseCidr } from "./addresses.js"
