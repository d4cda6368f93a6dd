/**
 * The package version, sent in `user-agent` and printed by `servo --version`. A test keeps it
 * equal to package.json's.
 *
 * @since 0.1.0
 */
export const version = "0.1.0"
