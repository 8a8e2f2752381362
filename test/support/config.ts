import { loadConfig, type Config } from '../../src/config/config.js';

/** A valid config for tests, from an explicit environment (never the developer's). */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', PUBLIC_URL: 'http://localhost:3000', LOG_LEVEL: 'silent', MASTER_KEY: '11'.repeat(32), ...env });
}
