/** Reads a required environment variable, failing at module load (a deploy mistake, not a client's). */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is not set`);
  }
  return value;
}
