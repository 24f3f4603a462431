// The one error of configuration: a bad flag, variable or config file line. main prints `shoal: MESSAGE` and exits
// 2. Its own module so that the config file parser (properties.ts) and config.ts share it without a cycle.
export class ConfigError extends Error {
  readonly code = 'SHOAL_CONFIG'
}
